// Package crypt is the encryption layer of encryption at rest (issue 13),
// over filippo.io/age: recipients (X25519 "age1..." and SSH "ssh-ed25519 ..."
// / "ssh-rsa ..." public keys), identity files that must be private to root
// (or to the user running ttsguard), and streams that encrypt a blob as it is
// written and decrypt it as it is read, hashing the plaintext on the way.
//
// The store (internal/store) commits blobs through Encrypt when the
// policy's store.encryption is set, and reads them back through Decrypt
// (docs/storage.md, "Encryption at rest").
package crypt

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// Errors callers branch on.
var (
	// ErrRecipient: a recipient string is not an age or SSH public key.
	ErrRecipient = errors.New("invalid recipient")
	// ErrIdentity: an identity file is unreadable, unsafe or holds no key.
	ErrIdentity = errors.New("invalid identity file")
	// ErrDecrypt: the data could not be decrypted (no identity matches, or it
	// is not an age file, or it was changed).
	ErrDecrypt = errors.New("cannot decrypt")
)

// MaxIdentityFile caps an identity file.
const MaxIdentityFile = 64 << 10

// ParseRecipients parses public keys: "age1..." (X25519) and SSH public keys
// as in authorized_keys ("ssh-ed25519 AAAA... comment", "ssh-rsa ...").
// Several recipients let several identities decrypt (a fleet key and a
// recovery key). An empty list is an error.
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrRecipient)
	}
	out := make([]age.Recipient, 0, len(keys))
	for i, k := range keys {
		k = strings.TrimSpace(k)
		var r age.Recipient
		var err error
		switch {
		case strings.HasPrefix(k, "age1"):
			r, err = age.ParseX25519Recipient(k)
		case strings.HasPrefix(k, "ssh-"):
			r, err = agessh.ParseRecipient(k)
		default:
			err = errors.New("want an age1... or ssh-ed25519/ssh-rsa public key")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: recipient %d %q: %v", ErrRecipient, i, short(k), err)
		}
		out = append(out, r)
	}
	return out, nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// CheckIdentityFile refuses an identity file that is not a regular file
// (a symbolic link included), that is owned by someone other than root or
// the effective user, or that group or others can read or write. It returns
// a description of what is wrong, for doctor, wrapped in ErrIdentity.
func CheckIdentityFile(path string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrIdentity, path, err)
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		return fmt.Errorf("%w: %s is not a regular file", ErrIdentity, path)
	case st.Uid != 0 && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%w: %s is owned by uid %d, not root", ErrIdentity, path, st.Uid)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("%w: %s has mode %04o: group or others can read it (chmod 0600)", ErrIdentity, path, st.Mode&0o7777)
	}
	return nil
}

// LoadIdentities reads an identity file after CheckIdentityFile: age
// identities ("AGE-SECRET-KEY-1...", one per line, # comments) or one
// unencrypted OpenSSH private key (ed25519 or RSA).
func LoadIdentities(path string) ([]age.Identity, error) {
	if err := CheckIdentityFile(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxIdentityFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrIdentity, path, err)
	}
	if len(data) > MaxIdentityFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrIdentity, path, MaxIdentityFile)
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrIdentity, path, err)
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrIdentity, path, err)
	}
	return ids, nil
}

// Encrypt returns a writer that encrypts what is written to it into w for
// every recipient; Close finishes the age file (it does not close w).
func Encrypt(w io.Writer, rs []age.Recipient) (io.WriteCloser, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrRecipient)
	}
	return age.Encrypt(w, rs...)
}

// Decrypt returns a reader of the plaintext of the age file r. The header is
// read and its key unwrapped here; the payload is authenticated chunk by
// chunk as it is read, so a reader that ends without error has read the
// whole, unchanged plaintext.
func Decrypt(r io.Reader, ids []age.Identity) (io.Reader, error) {
	p, err := age.Decrypt(r, ids...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	return p, nil
}

// HashPlaintext decrypts the age file r as a stream and returns the SHA-256
// of its plaintext and the plaintext's size, never holding more than a
// chunk of it: how a stored encrypted blob is verified against its digest.
func HashPlaintext(r io.Reader, ids []age.Identity) (sum [sha256.Size]byte, size int64, err error) {
	p, err := Decrypt(r, ids)
	if err != nil {
		return sum, 0, err
	}
	h := sha256.New()
	size, err = io.Copy(h, p)
	if err != nil {
		return sum, size, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, size, nil
}
