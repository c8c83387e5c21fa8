package crypt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/sys/unix"
)

// TestIdentitiesNotDumpable: loading the identity makes the process not
// dumpable before the key is read, so that no other process of the user
// can open its memfds (unsealed ones included) or read its memory (the
// attack review of 2026-12-04 overwrote an unsealed memfd through
// /proc/PID/fd while ttsguard was still dumpable).
func TestIdentitiesNotDumpable(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "store.key")
	if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := NewKeys([]string{id.Recipient().String()}, p)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 1 {
		t.Fatalf("dumpable %d before the identity is loaded", d)
	}
	if _, err := k.Identities(); err != nil {
		t.Fatal(err)
	}
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 0 {
		t.Fatalf("dumpable %d with the identity loaded", d)
	}
	// SealedMemfd makes sure of it too (a memfd of plaintext that came
	// without the identity file: store.OpenPlain's callers, tests)
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	f, _, err := SealedMemfd(strings.NewReader("plaintext"), "x")
	if err == nil {
		f.Close()
	}
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 0 {
		t.Fatalf("dumpable %d after SealedMemfd", d)
	}
}
