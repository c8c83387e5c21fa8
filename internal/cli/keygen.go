package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/oms"
)

type keygenResult struct {
	PrivateKey string `json:"private_key"`
	PublicKey  string `json:"public_key"`
	Curve      string `json:"curve"`
	KeyHint    string `json:"key_hint"`
	Encrypted  bool   `json:"encrypted"`
}

func (r keygenResult) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "wrote %s (private, 0600%s) and %s\n  curve:    %s\n  key hint: %s\n", r.PrivateKey, map[bool]string{true: ", encrypted"}[r.Encrypted], r.PublicKey, r.Curve, r.KeyHint)
	return err
}

func newKeygenCmd(g *globals) *cobra.Command {
	var curve, out, passwordFile string
	c := &cobra.Command{
		Use:   "keygen [--curve p256|p384|p521] [--out PREFIX] [--password-file F]",
		Short: "Write a new ECDSA key pair as PEM (PREFIX.key, 0600, and PREFIX.pub)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if _, ok := oms.Curves[curve]; !ok {
				return usagef("--curve %q: want p256, p384 or p521", curve)
			}
			pw, err := readPassword(passwordFile)
			if err != nil {
				return err
			}
			if passwordFile != "" && len(pw) == 0 {
				return usagef("password file %q is empty", passwordFile)
			}
			k, err := oms.GenerateKey(curve)
			if err != nil {
				return err
			}
			priv, err := oms.MarshalPrivateKey(k, pw)
			if err != nil {
				return err
			}
			pub, err := oms.MarshalPublicKey(&k.PublicKey)
			if err != nil {
				return err
			}
			hint, _ := oms.KeyHint(&k.PublicKey)
			r := keygenResult{PrivateKey: out + ".key", PublicKey: out + ".pub", Curve: curve, KeyHint: hint, Encrypted: len(pw) > 0}
			if err := createExclusive(r.PrivateKey, priv, 0o600); err != nil {
				return err
			}
			if err := createExclusive(r.PublicKey, pub, 0o644); err != nil {
				os.Remove(r.PrivateKey)
				return err
			}
			return g.printer().Print(r)
		},
	}
	c.Flags().StringVar(&curve, "curve", "p256", "curve: p256, p384 or p521")
	c.Flags().StringVar(&out, "out", "ttsguard", "output prefix: writes PREFIX.key and PREFIX.pub")
	c.Flags().StringVar(&passwordFile, "password-file", "", "encrypt the private key with the password in this file")
	return c
}

// createExclusive writes a new file with mode, refusing to overwrite one.
func createExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return usagef("%q already exists: not overwriting a key", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
