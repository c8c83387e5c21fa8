package crypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"filippo.io/age"
)

// Magic starts every age file (the v1 header's first line): how a stored
// blob is told to be encrypted.
const Magic = "age-encryption.org/v1\n"

// IsAge reports whether head (a file's first bytes) starts an age file.
func IsAge(head []byte) bool { return bytes.HasPrefix(head, []byte(Magic)) }

// IsAgeFile reports whether the regular file p (never followed if a
// symbolic link) starts an age file.
func IsAgeFile(p string) (bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(Magic))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	return IsAge(head[:n]), nil
}

// Keys are the store's keys: the recipients that new blobs are encrypted
// to, and the identity file that decrypts them, loaded (and checked) only
// when something needs to decrypt: a user who only commits, or reads
// nothing encrypted, need not be able to read it.
type Keys struct {
	Recipients   []age.Recipient
	IdentityFile string

	once sync.Once
	ids  []age.Identity
	err  error
}

// NewKeys parses recipients (ParseRecipients) for the identity file at
// identity (an absolute path; it is not read here).
func NewKeys(recipients []string, identity string) (*Keys, error) {
	rs, err := ParseRecipients(recipients)
	if err != nil {
		return nil, err
	}
	return &Keys{Recipients: rs, IdentityFile: identity}, nil
}

// NewKeysWith returns keys that use ids instead of reading an identity file
// (tests, and store rekey's old identity).
func NewKeysWith(rs []age.Recipient, ids []age.Identity) *Keys {
	k := &Keys{Recipients: rs, IdentityFile: "(given)"}
	k.once.Do(func() { k.ids = ids })
	return k
}

// Identities loads the identity file once (LoadIdentities) and returns its
// identities, or why it cannot. Before it reads the file the process stops
// being dumpable (notDumpable): the key, and every plaintext decrypted with
// it (in memory and in memfds, sealed or not yet), are then out of reach
// of other processes of the same user through /proc/PID/mem and
// /proc/PID/fd; only root passes.
func (k *Keys) Identities() ([]age.Identity, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: the store holds encrypted blobs and the policy has no store.encryption.identity", ErrIdentity)
	}
	k.once.Do(func() {
		if k.IdentityFile == "" {
			k.err = fmt.Errorf("%w: no identity file (store.encryption.identity)", ErrIdentity)
			return
		}
		if k.err = notDumpable(); k.err != nil {
			return
		}
		k.ids, k.err = LoadIdentities(k.IdentityFile)
	})
	return k.ids, k.err
}

// NoIdentityMatches reports whether err says that none of the identities
// can open the file (a key problem, not damaged data).
func NoIdentityMatches(err error) bool {
	var nm *age.NoIdentityMatchError
	return errors.As(err, &nm)
}
