package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/store"
)

type convertResult struct {
	Command string `json:"command"`
	store.Conversion
}

func (r convertResult) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "store %s: %d blobs of model files: %d rewritten, %d already encrypted, %d version files linked to them\n",
		r.Command, r.Blobs, r.Converted, r.Skipped, r.Relinked)
	return err
}

// newStoreEncCmd is `store encrypt` and `store rekey`: encryption at rest
// of an existing store (docs/storage.md).
func newStoreEncCmd(g *globals) *cobra.Command {
	var policyPath string
	sc := &cobra.Command{Use: "store", Short: "Convert the store: encryption at rest (store.encryption in the policy)"}
	for _, k := range []struct{ use, short string }{
		{"encrypt", "Encrypt, in place and crash-safely, every model file still stored in plaintext"},
		{"rekey", "Re-encrypt every model file to the policy's recipients (the identity file must open the old ones)"},
	} {
		cmd := "store " + k.use
		c := &cobra.Command{
			Use:   k.use,
			Short: k.short,
			Args:  cobra.NoArgs,
			RunE: func(c *cobra.Command, args []string) error {
				pol, st, err := openStore(policyPath, cmd)
				if err != nil {
					return err
				}
				if !pol.Encryption.Set {
					return usageError{errors.New(cmd + ": the policy has no store.encryption (recipients and identity) to encrypt to")}
				}
				res, err := st.Convert(c.Context(), k.use == "rekey")
				ev := audit.Event{Command: cmd, OK: err == nil}
				if res != nil {
					ev.Detail = fmt.Sprintf("%d of %d blobs rewritten", res.Converted, res.Blobs)
					if perr := g.printer().Print(convertResult{Command: k.use, Conversion: *res}); perr != nil && err == nil {
						err = perr
					}
				}
				if lerr := logEvent(g, pol, ev, err == nil); err == nil {
					err = lerr
				}
				return err
			},
		}
		c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (it names the store and its store.encryption)")
		sc.AddCommand(c)
	}
	return sc
}
