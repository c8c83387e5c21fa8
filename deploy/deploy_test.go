// Package deploy holds the systemd units and the container image of
// docs/deploy.md; its test checks the units with systemd-analyze.
package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/cli"
)

// verify runs systemd-analyze verify on units (copied into a temporary folder
// with ExecStart's ttsguard replaced by an executable that exists here) and
// returns what it printed; a unit that does not verify fails the test.
func verify(t *testing.T, files map[string]string, units ...string) string {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, text := range files {
		text = strings.ReplaceAll(text, "/usr/local/bin/ttsguard", self)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"verify", "--man=no"}
	for _, u := range units {
		args = append(args, "./"+u)
	}
	cmd := exec.Command(sa, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out) + "\n" + err.Error()
	}
	return string(out)
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUnitsVerify: the units verify without a warning (an unknown key, a
// bad value or a missing command would be printed), the template as an
// instance named as systemd-escape names a coqui model id.
func TestUnitsVerify(t *testing.T) {
	server := read(t, "ttsguard-tts-server@.service")
	files := map[string]string{
		"ttsguard-audit.service":                                  read(t, "ttsguard-audit.service"),
		"ttsguard-audit.timer":                                    read(t, "ttsguard-audit.timer"),
		`ttsguard-tts-server@tts_models-en-ljspeech-vits.service`: server,
	}
	if out := verify(t, files, "ttsguard-audit.service", "ttsguard-audit.timer", "ttsguard-tts-server@tts_models-en-ljspeech-vits.service"); strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify:\n%s", out)
	}
	// The check itself sees a broken unit.
	broken := map[string]string{"x.service": strings.Replace(read(t, "ttsguard-audit.service"), "Nice=10", "Nicee=10", 1)}
	if out := verify(t, broken, "x.service"); !strings.Contains(out, "Nicee") {
		t.Fatalf("a misspelt key passed: %q", out)
	}
}

// TestUnitsCommands: the units run commands and flags ttsguard has (its
// --help lists them), and the server unit keeps the namespaces ttsguard
// creates.
func TestUnitsCommands(t *testing.T) {
	server, audit := read(t, "ttsguard-tts-server@.service"), read(t, "ttsguard-audit.service")
	for _, c := range []struct {
		unit string
		cmd  string
	}{{server, "run"}, {audit, "audit"}} {
		var out, errb bytes.Buffer
		if code := cli.Main([]string{c.cmd, "--help"}, &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d: %s", c.cmd, code, errb.String())
		}
		_, line, _ := strings.Cut(c.unit, "ExecStart=/usr/local/bin/ttsguard "+c.cmd+" ")
		line, _, _ = strings.Cut(line, "\n")
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "--") && !strings.Contains(out.String(), f+" ") {
				t.Errorf("%s unit: ttsguard %s has no flag %s", c.cmd, c.cmd, f)
			}
		}
	}
	for _, want := range []string{"ExecStart=/usr/local/bin/ttsguard run --policy /etc/ttsguard/ttsguard.yaml %I --tts-server"} {
		if !strings.Contains(server, want) {
			t.Errorf("server unit lacks %q", want)
		}
	}
	if !strings.Contains(audit, "ExecStart=/usr/local/bin/ttsguard audit --policy /etc/ttsguard/ttsguard.yaml --metrics ") {
		t.Error("audit unit does not write metrics")
	}
	for _, forbidden := range []string{"\nRestrictNamespaces=", "\nSystemCallFilter=", "\nCapabilityBoundingSet=", "\nPrivateUsers=", "\nPrivateDevices="} {
		if strings.Contains(server, forbidden) {
			t.Errorf("server unit sets %s, which stops ttsguard's own sandbox", strings.TrimSpace(forbidden))
		}
	}
}
