package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/oci"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/store"
)

type pushResult struct {
	Model string `json:"model"` // NAME@VERSION
	Root  string `json:"root_digest"`
	*oci.PushResult
}

func (r pushResult) Text(w io.Writer) error {
	fmt.Fprintf(w, "pushed %s (%s) to %s\n", r.Model, r.Root, r.Ref)
	fmt.Fprintf(w, "  manifest  %s\n", r.Manifest)
	fmt.Fprintf(w, "  layers    %d (%d uploaded, %.1f MiB)\n", r.Layers, r.Uploaded, float64(r.Bytes)/(1<<20))
	for _, f := range []string{oci.SignatureFile, oci.ProvenanceFile} {
		if d, ok := r.Referrers[f]; ok {
			fmt.Fprintf(w, "  %-14s referrer %s\n", f, d)
		}
	}
	fmt.Fprintf(w, "pull it with: ttsguard pull %s\n", strings.Replace(r.Ref, ":"+tagOf(r.Ref), "@"+r.Manifest, 1))
	return nil
}

func tagOf(ref string) string {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ""
	}
	return ref[i+1:]
}

func newPushCmd(g *globals) *cobra.Command {
	var policyPath string
	c := &cobra.Command{
		Use:   "push [--policy F] NAME[@VERSION] oci://HOST[:PORT]/REPO:TAG",
		Short: "Publish a stored model to an OCI registry (CNCF ModelPack layout, signatures as referrers)",
		Long: `push publishes a stored model version as an OCI artifact in the CNCF ModelPack layout: a config of
type application/vnd.cncf.model.config.v1+json and one layer per file (its path in the
org.cncf.model.filepath annotation), tagged TAG. Its model.sig and provenance.sig are attached as OCI 1.1
referrers of the manifest (artifact type application/vnd.dev.sigstore.bundle.v0.3+json), through the
referrers tag scheme where the registry has no referrers API. The registry must be in the policy's sources
(oci://HOST[:PORT]/PREFIX; oci+http:// for a loopback registry without TLS). Credentials come from the
Docker configuration ($DOCKER_CONFIG or ~/.docker/config.json, with credential helpers). The registry
checks every blob against its digest, so a stored file that changed since it was hashed fails the push.
See docs/fleet.md.`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := oci.ParseRef(args[1])
			if err != nil {
				return usageError{err}
			}
			if ref.Tag == "" {
				return usagef("%s: push needs a tag (oci://HOST/REPO:TAG)", args[1])
			}
			pol, st, err := openStoreToRead(policyPath, "push")
			if err != nil {
				return err
			}
			if st == nil {
				return usagef("no store yet: nothing to push")
			}
			name, ver, _ := strings.Cut(args[0], "@")
			var v *store.Version
			if ver == "" {
				v, err = st.Get(name)
			} else {
				v, err = storedVersion(st, name, ver)
			}
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrBadName) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if enc, err := st.Encrypted(v); err != nil {
				return err
			} else if enc {
				return usageError{fmt.Errorf("push %s: the model is encrypted at rest (store.encryption): pushing it would send either its ciphertext, which no puller can verify, or its plaintext out of the encrypted store; neither is done (docs/storage.md)", v.Name)}
			}
			meta, err := st.Meta(v)
			if err != nil {
				return err
			}
			req := oci.PushRequest{Name: v.Name, Version: v.ID, Format: "pytorch", Bundles: map[string][]byte{}}
			for _, f := range meta.Files {
				p := filepath.Join(v.Dir, filepath.FromSlash(f.Path))
				req.Files = append(req.Files, oci.PushFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size,
					Open: func() (io.ReadCloser, error) { return os.Open(p) }})
			}
			for _, f := range []string{oci.SignatureFile, oci.ProvenanceFile} {
				b, err := os.ReadFile(filepath.Join(v.Dir, f))
				switch {
				case err == nil:
					req.Bundles[f] = b
				case !errors.Is(err, os.ErrNotExist):
					return err
				}
			}
			client, err := pull.OCIClient(pol, nil, ref, Version())
			if err != nil {
				return pullErr(err)
			}
			defer client.CloseIdleConnections()
			res, err := client.Push(c.Context(), ref, req)
			e := audit.Event{Command: "push", Model: v.Name, Root: v.Root, OK: err == nil}
			if err == nil {
				e.Detail = fmt.Sprintf("to %s manifest %s", ref, res.Manifest)
			} else {
				e.Detail = firstLine(err.Error())
			}
			if lerr := logEventAfter(g, pol, e, true, err); lerr != nil {
				return lerr
			}
			if err != nil {
				return err
			}
			return g.printer().Print(pushResult{Model: v.Name + "@" + v.ID, Root: v.Root, PushResult: res})
		},
	}
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (default: $TTSGUARD_POLICY, ./ttsguard.yaml, $XDG_CONFIG_HOME/ttsguard/policy.yaml, built-in)")
	return c
}
