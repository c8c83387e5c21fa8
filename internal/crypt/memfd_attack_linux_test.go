package crypt

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// attackUID is the user the holder and the attacker run as.
const attackUID = 4291

// TestMemfdSameUserAttack performs the attack of the review of 2026-12-04:
// while a process of a user (not root) decrypts into a memfd that is not
// sealed yet, another process of the same user opens /proc/PID/fd/N for
// writing and overwrites what was written. SealedMemfd makes the holder
// not dumpable first, so the open is refused and the sealed content is
// what was copied. (Without that, the attacker's bytes end up sealed.)
func TestMemfdSameUserAttack(t *testing.T) {
	if os.Getenv("TTSGUARD_MEMFD_HOLDER") == "1" {
		memfdHolder()
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("runs the holder and the attacker as another user: root only")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	// the test binary, where the user can run it
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		os.Chmod(p, 0o755)
	}
	bin := filepath.Join(dir, "crypt.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command(bin, "-test.run=^TestMemfdSameUserAttack$")
	holder.Env = append(os.Environ(), "TTSGUARD_MEMFD_HOLDER=1")
	holder.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: attackUID, Gid: attackUID}}
	release, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	lines := bufio.NewScanner(out)
	var pid, fd int
	for lines.Scan() {
		if n, _ := fmt.Sscanf(lines.Text(), "READY %d %d", &pid, &fd); n == 2 {
			break
		}
	}
	if pid == 0 {
		t.Fatal("the holder did not say which memfd it fills")
	}
	// the attacker: the same user, another process
	path := fmt.Sprintf("/proc/%d/fd/%d", pid, fd)
	attack := exec.Command(setpriv, fmt.Sprintf("--reuid=%d", attackUID), fmt.Sprintf("--regid=%d", attackUID), "--clear-groups",
		"sh", "-c", `printf PWNED 1<> "$0"`, path)
	aout, aerr := attack.CombinedOutput()
	release.Close() // let the holder finish copying and seal
	var sealed string
	for lines.Scan() {
		if s, ok := strings.CutPrefix(lines.Text(), "SEALED "); ok {
			sealed = s
		}
	}
	holder.Wait()
	if aerr == nil {
		t.Errorf("a process of the same user opened %s for writing while it was filled", path)
	}
	if sealed != "original-plaintext" {
		t.Fatalf("the sealed memfd holds %q, want the bytes copied (attacker: %v %s)", sealed, aerr, aout)
	}
}

// memfdHolder fills a memfd through SealedMemfd with a reader that, after
// its first bytes, says which descriptor is being filled and waits for
// stdin to close; then it prints what the sealed memfd holds.
func memfdHolder() {
	r := &pausingReader{first: []byte("original-plaintext")}
	f, _, err := SealedMemfd(r, "attack-test")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(f)
	fmt.Printf("SEALED %s\n", b)
	os.Exit(0)
}

type pausingReader struct {
	first []byte
	n     int
}

func (p *pausingReader) Read(b []byte) (int, error) {
	p.n++
	switch p.n {
	case 1:
		return copy(b, p.first), nil
	case 2:
		// the first bytes are in the memfd: name it, and wait
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.Contains(l, "memfd:attack-test") {
				fmt.Printf("READY %d %s\n", os.Getpid(), e.Name())
			}
		}
		io.Copy(io.Discard, os.Stdin)
	}
	return 0, io.EOF
}
