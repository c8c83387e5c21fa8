package pull

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/policy"
)

// The policy's models.NAME.files, as pull reads it. (These tests of
// internal/policy live here because pull is the key's one user.)

func TestPolicyModelFiles(t *testing.T) {
	tests := []struct {
		name, files string
		want        []string // the parsed exclude list
		err         string   // the error, when invalid
	}{
		{name: "globs", files: "{exclude: [checkpoint_*.pth, events.out.tfevents.*, \"trainer_[0-9]_log.txt\", logs/*.txt, runs]}",
			want: []string{"checkpoint_*.pth", "events.out.tfevents.*", "trainer_[0-9]_log.txt", "logs/*.txt", "runs"}},
		{name: "null", files: "null"},
		{name: "empty list", files: "{exclude: []}"},
		{name: "unknown key", files: "{include: [a]}", err: `line 5: models["m"].files: unknown key "include"`},
		{name: "not a list", files: "{exclude: a}", err: `models["m"].files.exclude: want a list of strings`},
		{name: "not a mapping", files: "[a]", err: `models["m"].files: want a mapping`},
		{name: "absolute", files: "{exclude: [/etc/x]}", err: `models["m"].files.exclude[0]: pattern "/etc/x": want a path relative`},
		{name: "dot dot", files: "{exclude: [ok, ../x]}", err: `models["m"].files.exclude[1]: pattern "../x": want slash-separated names`},
		{name: "empty part", files: "{exclude: [\"a//b\"]}", err: `pattern "a//b": want slash-separated names`},
		{name: "trailing slash", files: "{exclude: [\"logs/\"]}", err: `pattern "logs/": want slash-separated names`},
		{name: "empty", files: "{exclude: [\"\"]}", err: `pattern "": empty`},
		{name: "bad glob", files: "{exclude: [\"[a-\"]}", err: `pattern "[a-": not a glob`},
		{name: "control character", files: "{exclude: [\"a\\tb\"]}", err: `pattern "a\tb": a control character`},
		{name: "twice", files: "{exclude: [a, a]}", err: `models["m"].files.exclude[1]: "a" is listed twice`},
		{name: "not a string", files: "{exclude: [1]}", err: `models["m"].files.exclude[0]: want a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\nsources: []\nmodels:\n  m:\n    files: " + tt.files + "\n"
			p, err := policy.Parse("p.yaml", []byte(src))
			if tt.err != "" {
				if err == nil || !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Models["m"].Files.Exclude; !slices.Equal(got, tt.want) {
				t.Fatalf("exclude %q, want %q", got, tt.want)
			}
			// policy check prints it, and reads its print back to the same.
			out := p.String()
			if strings.Contains(out, "files:") != (len(tt.want) > 0) {
				t.Fatalf("printed:\n%s", out)
			}
			back, err := policy.Parse("printed.yaml", []byte(out))
			if err != nil || !slices.Equal(back.Models["m"].Files.Exclude, tt.want) {
				t.Fatalf("read back %v: %v\n%s", back, err, out)
			}
		})
	}
}

func TestPolicyExcluded(t *testing.T) {
	m := policy.Model{Files: policy.ModelFiles{Exclude: []string{"checkpoint_*.pth", "events.out.tfevents.*", "runs", "sub/*.log"}}}
	tests := map[string]bool{
		"checkpoint_1.pth": true, "checkpoint_1.pth.bak": false, "sub/checkpoint_1.pth": false,
		"events.out.tfevents.1796288384.vm.27742.1": true,
		"runs/a/b.txt": true, "runs": true, "runsx/a": false, "a/runs/b": false,
		"sub/a.log": true, "sub/deeper/a.log": false, "model.pth": false, "config.json": false,
	}
	for name, want := range tests {
		if got := m.Excluded(name); got != want {
			t.Errorf("Excluded(%q) = %v, want %v", name, got, want)
		}
	}
	if (policy.Model{}).Excluded("anything") {
		t.Error("a model without files.exclude excludes a file")
	}
}

// TestPolicyDocsFilesExample: the files.exclude example of docs/policy.md is
// valid, and leaves out the trainer's leftovers of the fixture run folder
// but none of the files the loader reads.
func TestPolicyDocsFilesExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	must(t, err)
	_, section, ok := strings.Cut(string(doc), "#### `files.exclude`")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no files.exclude example in docs/policy.md")
	}
	p, err := policy.Parse("docs/policy.md", []byte("version: 1\n"+block))
	must(t, err)
	m := p.Models["my-voice"]
	dir, names := trainerFolder(t)
	family, unread := unreadFiles(dir, names)
	for _, n := range names {
		if want := slices.Contains(unread, n); m.Excluded(n) != want {
			t.Errorf("%s: excluded %v, never read by the %s loader %v", n, m.Excluded(n), family, want)
		}
	}
}
