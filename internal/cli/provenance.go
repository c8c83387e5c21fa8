package cli

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/lineage"
	"github.com/ttsguard/ttsguard/internal/oms"
)

// newVerifyProvenanceCmd is `ttsguard verify provenance`.
func newVerifyProvenanceCmd(g *globals) *cobra.Command {
	var pubPath, identity, issuer, trustRoot, policyPath string
	var chainPaths []string
	var anyEKU bool
	c := &cobra.Command{
		Use:   "provenance --public-key K | --certificate-chain C... | --identity I --identity-provider U [--trust-root R] [--policy P] MODEL",
		Short: "Verify a trained model's provenance.sig (ttsguard train) and print its lineage",
		Long: `provenance checks the training provenance bundle of MODEL (a folder, a stored model, or NAME@VERSION):
its signature by the given key, certificate chain or Sigstore identity; the in-toto statement with the
SLSA Provenance v1 predicate; and that its subjects are exactly the model's files (every file but
model.sig, provenance.sig and the top-level git paths, with the same SHA-256). Then it prints the
lineage: the datasets and the base model with their root digests, the config, the code, the Python
environment, the command, when it ran. Exit 1 when any check fails. See docs/provenance.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var v oms.SignatureVerifier
			kinds := 0
			if pubPath != "" {
				kinds++
				kv, err := keyVerifier(pubPath)
				if err != nil {
					return err
				}
				v = kv
			}
			if len(chainPaths) > 0 {
				kinds++
				var anchors []*x509.Certificate
				for _, p := range chainPaths {
					cs, err := readCertificates(p)
					if err != nil {
						return err
					}
					anchors = append(anchors, cs...)
				}
				v = oms.CertificateVerifier{Anchors: anchors, AnyExtKeyUsageUnsafe: anyEKU}
			}
			if identity != "" || issuer != "" {
				kinds++
				sv, err := oms.NewSigstoreVerifier(trustRoot, identity, issuer)
				if err != nil {
					return usageError{err}
				}
				v = sv
			}
			if kinds != 1 {
				return usagef("give one of --public-key, --certificate-chain, or --identity with --identity-provider")
			}
			ref, err := resolveModel(policyPath, args[0])
			if err != nil {
				return err
			}
			r, err := lineage.Verify(c.Context(), ref.Path, v, lineage.VerifyOptions{})
			if r != nil {
				if perr := g.printer().Print(verifiedProvenance{r}); perr != nil && err == nil {
					return perr
				}
			}
			return err
		},
	}
	fl := c.Flags()
	fl.StringVar(&pubPath, "public-key", "", "PEM public key of the signer")
	fl.StringArrayVar(&chainPaths, "certificate-chain", nil, "PEM file of trusted CA certificates (repeatable)")
	fl.BoolVar(&anyEKU, "allow-any-eku", false, "accept a signing certificate without the code-signing extended key usage")
	fl.StringVar(&identity, "identity", "", "expected Sigstore signer identity (certificate SAN: email or URI)")
	fl.StringVar(&issuer, "identity-provider", "", "expected Sigstore OIDC issuer URL")
	fl.StringVar(&trustRoot, "trust-root", "", "Sigstore trusted_root.json (default: the embedded public-good root)")
	fl.StringVar(&policyPath, "policy", "", "trust policy file (for a stored model's store)")
	return c
}

// verifiedProvenance prints a provenance check.
type verifiedProvenance struct{ *lineage.Verified }

func (r verifiedProvenance) MarshalJSON() ([]byte, error) { return json.Marshal(r.Verified) }

func (r verifiedProvenance) Text(w io.Writer) error {
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "provenance %s: %s\n", verdict, r.Model)
	fmt.Fprintf(&b, "  bundle:     %s\n", r.Bundle)
	if r.Signer != nil {
		fmt.Fprintf(&b, "  signer:     %s\n", r.Signer)
	}
	for _, l := range []struct {
		what  string
		files []string
	}{{"missing", r.Missing}, {"not listed", r.Extra}, {"changed", r.Changed}} {
		for _, f := range l.files {
			fmt.Fprintf(&b, "  %-11s %s\n", l.what+":", f)
		}
	}
	if r.Record != nil {
		fmt.Fprintf(&b, "  model:      %d files, root %s\n", len(r.Record.Subjects), r.Record.Root)
		writeLineage(&b, r.Record)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLineage writes a provenance record for people.
func writeLineage(b *strings.Builder, r *lineage.Record) {
	for _, d := range r.Datasets {
		fmt.Fprintf(b, "  dataset:    %s %s (%d files) at %s; checked: %s\n", d.Name, d.Root, d.Files, d.Path, d.Verified)
	}
	if r.Base != nil {
		fmt.Fprintf(b, "  base model: %s %s (%s)\n", r.Base.Name, r.Base.Root, r.Base.Dir)
	} else {
		b.WriteString("  base model: none (trained from scratch)\n")
	}
	if r.Config != nil {
		fmt.Fprintf(b, "  config:     %s sha256:%s\n", r.Config.Path, r.Config.SHA256)
	}
	if c := r.Code; c != nil {
		fmt.Fprintf(b, "  code:       %s %s (%d files)", c.Dir, c.Root, len(c.Files))
		if c.GitCommit != "" {
			fmt.Fprintf(b, ", git commit %s tree %s", c.GitCommit, c.GitTree)
		}
		b.WriteByte('\n')
	}
	if py := r.Python; py != nil {
		fmt.Fprintf(b, "  python:     %s (%s, %s) with %d distributions", py.Interpreter, py.Version, py.Executable, len(py.Distributions))
		if py.Venv != "" {
			fmt.Fprintf(b, ", virtual environment %s", py.Venv)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(b, "  command:    %s\n", quoteArgs(firstOr(r.Command), rest(r.Command)))
	if !r.Started.IsZero() {
		fmt.Fprintf(b, "  ran:        %s to %s (exit status %d), ttsguard %s\n", r.Started.Format(time.RFC3339), r.Finished.Format(time.RFC3339), r.ExitStatus, r.Version)
	}
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func rest(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s[1:]
}
