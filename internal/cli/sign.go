package cli

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/oms"
)

func newSignCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "sign",
		Short: "Sign a model (OpenSSF Model Signing bundle)",
	}
	c.AddCommand(newSignKeyCmd(g), newSignCertCmd(g))
	return c
}

type keyFlags struct {
	privateKey   string
	passwordFile string
}

func (k *keyFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&k.privateKey, "private-key", "", "PEM private key (ECDSA P-256, P-384 or P-521)")
	c.Flags().StringVar(&k.passwordFile, "password-file", "", "file holding the private key's password")
	c.MarkFlagRequired("private-key")
}

func (k *keyFlags) load() (*oms.KeySigner, error) {
	data, err := os.ReadFile(k.privateKey)
	if err != nil {
		return nil, usageError{fmt.Errorf("private key: %w", err)}
	}
	pw, err := readPassword(k.passwordFile)
	if err != nil {
		return nil, err
	}
	key, err := oms.ParsePrivateKey(k.privateKey, data, pw)
	if err != nil {
		return nil, usageError{err}
	}
	return &oms.KeySigner{Key: key}, nil
}

// loadWith loads the private key and, given a signing certificate, makes a
// certificate signer of it with the chain's certificates (sign certificate).
func (k *keyFlags) loadWith(leafPath string, chainPaths []string) (oms.SignerMaterial, error) {
	s, err := k.load()
	if err != nil || leafPath == "" {
		return s, err
	}
	leaf, err := readCertificates(leafPath)
	if err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	for _, p := range chainPaths {
		cs, err := readCertificates(p)
		if err != nil {
			return nil, err
		}
		chain = append(chain, cs...)
	}
	return oms.CertificateSigner{Key: s.Key, Leaf: leaf[0], Chain: append(leaf[1:], chain...)}, nil
}

// addGitPathsFlag adds --no-ignore-git-paths, the reference's option of the same name.
func addGitPathsFlag(c *cobra.Command, v *bool) {
	c.Flags().BoolVar(v, "no-ignore-git-paths", false, "also hash the top-level .git/, .github/, .gitattributes and .gitignore (left out by default)")
}

// readPassword reads a password file, dropping one trailing newline.
func readPassword(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("password file: %w", err)}
	}
	return []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")), nil
}

func newSignKeyCmd(g *globals) *cobra.Command {
	var f modelFlags
	var k keyFlags
	var noGit bool
	c := &cobra.Command{
		Use:   "key --private-key K [flags] MODEL",
		Short: "Sign with an elliptic-curve private key",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o, err := f.options(c)
			if err != nil {
				return err
			}
			o.NoIgnoreGitPaths = noGit
			s, err := k.load()
			if err != nil {
				return err
			}
			r, err := oms.Sign(c.Context(), args[0], *s, o)
			if err != nil {
				return err
			}
			return g.printer().Print(r)
		},
	}
	k.add(c)
	f.addSignature(c)
	f.addSelection(c)
	f.addSerialization(c)
	addGitPathsFlag(c, &noGit)
	return c
}

func newSignCertCmd(g *globals) *cobra.Command {
	var f modelFlags
	var k keyFlags
	var noGit bool
	var leafPath string
	var chainPaths []string
	c := &cobra.Command{
		Use:   "certificate --private-key K --signing-certificate C [--certificate-chain C]... [flags] MODEL",
		Short: "Sign with a private key and its X.509 certificate chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o, err := f.options(c)
			if err != nil {
				return err
			}
			o.NoIgnoreGitPaths = noGit
			s, err := k.loadWith(leafPath, chainPaths)
			if err != nil {
				return err
			}
			r, err := oms.Sign(c.Context(), args[0], s, o)
			if err != nil {
				return err
			}
			return g.printer().Print(r)
		},
	}
	k.add(c)
	c.Flags().StringVar(&leafPath, "signing-certificate", "", "PEM certificate of the signing key")
	c.Flags().StringArrayVar(&chainPaths, "certificate-chain", nil, "PEM file of intermediate certificates to include (repeatable)")
	c.MarkFlagRequired("signing-certificate")
	f.addSignature(c)
	f.addSelection(c)
	f.addSerialization(c)
	addGitPathsFlag(c, &noGit)
	return c
}

// keyVerifier reads the PEM public key at path for verification.
func keyVerifier(path string) (oms.KeyVerifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return oms.KeyVerifier{}, usageError{fmt.Errorf("public key: %w", err)}
	}
	pub, err := oms.ParsePublicKey(path, data)
	if err != nil {
		return oms.KeyVerifier{}, usageError{err}
	}
	return oms.KeyVerifier{Key: pub}, nil
}

// readCertificates reads every CERTIFICATE block of a PEM file (at least one).
func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("certificate: %w", err)}
	}
	certs, err := oms.ParseCertificatesPEM(path, data)
	if err != nil {
		return nil, usageError{err}
	}
	return certs, nil
}
