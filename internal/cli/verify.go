package cli

import (
	"crypto/x509"
	"errors"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/access"
	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/channel"
	"github.com/ttsguard/ttsguard/internal/coqui"
	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/fetch"
	"github.com/ttsguard/ttsguard/internal/lineage"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/store"
)

func newVerifyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "verify",
		Short: "Verify a model against its OpenSSF Model Signing signature",
	}
	c.AddCommand(newVerifyKeyCmd(g), newVerifyCertCmd(g), newVerifySigstoreCmd(g), newVerifyProvenanceCmd(g))
	return c
}

type verifyFlags struct {
	modelFlags
	ignoreUnsigned bool
	noIgnoreGit    bool
}

func (f *verifyFlags) add(c *cobra.Command) {
	f.addSignature(c)
	f.addSelection(c)
	c.Flags().BoolVar(&f.ignoreUnsigned, "ignore-unsigned-files", false, "tolerate files in the model that the signature does not list")
	c.Flags().BoolVar(&f.noIgnoreGit, "no-ignore-git-paths", false, "also check the top-level git files for a signature that does not record its ignore paths (model_signing 1.0 and older); a recorded list is always followed")
}

// runVerify verifies and prints the evidence, also when verification fails.
func runVerify(g *globals, c *cobra.Command, model string, f *verifyFlags, v oms.SignatureVerifier) error {
	o, err := f.options(c)
	if err != nil {
		return err
	}
	o.NoIgnoreGitPaths = f.noIgnoreGit
	r, err := oms.Verify(c.Context(), model, v, oms.VerifyOptions{ModelOptions: o, IgnoreUnsignedFiles: f.ignoreUnsigned})
	if r != nil {
		if perr := g.printer().Print(r); perr != nil && err == nil {
			return perr
		}
	}
	return err
}

func newVerifyKeyCmd(g *globals) *cobra.Command {
	var f verifyFlags
	var pubPath string
	c := &cobra.Command{
		Use:   "key --public-key P [flags] MODEL",
		Short: "Verify a signature made with an elliptic-curve key",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := keyVerifier(pubPath)
			if err != nil {
				return err
			}
			return runVerify(g, c, args[0], &f, v)
		},
	}
	c.Flags().StringVar(&pubPath, "public-key", "", "PEM public key of the signer")
	c.MarkFlagRequired("public-key")
	f.add(c)
	return c
}

func newVerifyCertCmd(g *globals) *cobra.Command {
	var f verifyFlags
	var chainPaths []string
	var anyEKU bool
	c := &cobra.Command{
		Use:   "certificate --certificate-chain C... [flags] MODEL",
		Short: "Verify a signature made with a certificate that chains to a trusted CA",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var anchors []*x509.Certificate
			for _, p := range chainPaths {
				cs, err := readCertificates(p)
				if err != nil {
					return err
				}
				anchors = append(anchors, cs...)
			}
			return runVerify(g, c, args[0], &f, oms.CertificateVerifier{Anchors: anchors, AnyExtKeyUsageUnsafe: anyEKU})
		},
	}
	c.Flags().StringArrayVar(&chainPaths, "certificate-chain", nil, "PEM file of trusted CA certificates (repeatable)")
	c.Flags().BoolVar(&anyEKU, "allow-any-eku", false, "accept a signing certificate without the code-signing extended key usage (a TLS certificate, say), as model_signing does")
	c.MarkFlagRequired("certificate-chain")
	f.add(c)
	return c
}

func newVerifySigstoreCmd(g *globals) *cobra.Command {
	var f verifyFlags
	var identity, issuer, trustRoot string
	c := &cobra.Command{
		Use:   "sigstore --identity I --identity-provider U [--trust-root trusted_root.json] [flags] MODEL",
		Short: "Verify a keyless (Sigstore) signature offline against a trusted root",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := oms.NewSigstoreVerifier(trustRoot, identity, issuer)
			if err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return usageError{err}
			}
			return runVerify(g, c, args[0], &f, v)
		},
	}
	c.Flags().StringVar(&identity, "identity", "", "expected signer identity (certificate SAN: email or URI)")
	c.Flags().StringVar(&issuer, "identity-provider", "", "expected OIDC issuer URL")
	c.Flags().StringVar(&trustRoot, "trust-root", "", "Sigstore trusted_root.json (default: the embedded public-good root)")
	c.MarkFlagRequired("identity")
	c.MarkFlagRequired("identity-provider")
	f.add(c)
	return c
}

// isCheckFailure reports errors that mean "a check ran and failed".
func isCheckFailure(err error) bool {
	for _, e := range []error{access.ErrDenied, oms.ErrVerification, errUnsafe, pull.ErrGate, policy.ErrNotAllowed, fetch.ErrNotAllowed,
		fetch.ErrHTML, fetch.ErrTooLarge, fetch.ErrTruncated, fetch.ErrBadResponse, fetch.ErrUnsafeEntry, fetch.ErrLimit,
		fetch.ErrNotArchive, pull.ErrUnsafeLocal, store.ErrPinMismatch, store.ErrRootMismatch, store.ErrCorrupt, audit.ErrTampered, audit.ErrBadRecord, errAuditFailed, lineage.ErrProvenance, lineage.ErrNoProvenance, channel.ErrAttack, dataset.ErrUnauthentic} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// isInputError reports errors in the input the user gave.
func isInputError(err error) bool {
	for _, e := range []error{oms.ErrKey, oms.ErrEmptyModel, oms.ErrBundle, oms.ErrStatement, manifest.ErrSymlink, manifest.ErrSpecialFile,
		manifest.ErrBrokenLink, manifest.ErrColonInName, manifest.ErrIgnorePath, policy.ErrInvalid, coqui.ErrCatalog,
		coqui.ErrNoCatalog, coqui.ErrNotFound, pull.ErrUsage, store.ErrNotFound, store.ErrBadName, store.ErrUnsafeRoot, channel.ErrKey, channel.ErrRepo, channel.ErrUsage} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
