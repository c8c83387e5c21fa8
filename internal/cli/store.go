package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/scan/config"
	"github.com/ttsguard/ttsguard/internal/store"
)

// openStore opens (creating it when missing, for the policy's serving
// group) the store the policy names, for the command cmd: its caller must
// hold a role the command needs (access.CommandRoles).
func openStore(policyPath, cmd string) (*policy.Policy, *store.Store, error) {
	return openStoreIf(policyPath, cmd, true)
}

// openStoreToRead is openStore for commands that only read: a store that
// does not exist yet is not created (the returned store is nil).
func openStoreToRead(policyPath, cmd string) (*policy.Policy, *store.Store, error) {
	return openStoreIf(policyPath, cmd, false)
}

func openStoreIf(policyPath, cmd string, create bool) (*policy.Policy, *store.Store, error) {
	pol, err := loadPolicyFor(policyPath, cmd)
	if err != nil {
		return nil, nil, err
	}
	root, err := pol.StoreDir()
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Lstat(root); !create && errors.Is(err, fs.ErrNotExist) {
		return pol, nil, nil
	}
	open := store.Open
	if !create && pol.Access.Set {
		open = store.OpenRead // a root store opened by a role holder
	}
	opts, err := store.Options(pol)
	if err != nil {
		return nil, nil, err
	}
	st, err := open(root, opts...)
	return pol, st, err
}

type lsRow struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`             // tts model, vocoder, other (modelKind)
	Family  string `json:"family,omitempty"` // config.json "model": vits, hifigan, ...
	Version string `json:"version"`
	Root    string `json:"root_digest"`
	Files   int    `json:"files"`
	Bytes   int64  `json:"bytes"`
	Created string `json:"created"`
	Path    string `json:"path"`
}

type lsResult []lsRow

func (r lsResult) Text(w io.Writer) error {
	var b strings.Builder
	for _, v := range r {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d files\t%d bytes\t%s\n", v.Name, v.Kind, v.Root, v.Files, v.Bytes, v.Created)
	}
	if len(r) == 0 {
		b.WriteString("the store holds no model\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Families of coqui-tts 0.28: the "model" of the configs in TTS/vocoder/configs
// (old vocoder configs name a "generator_model", such as hifigan_generator)
// and in TTS/tts/configs, lower case.
var (
	vocoderFamilies = familySet("fullband_melgan", "gan", "hifigan", "melgan", "multiband_melgan", "parallel_wavegan", "univnet", "wavegrad", "wavernn")
	ttsFamilies     = familySet("align_tts", "bark", "delightful_tts", "fast_pitch", "fast_speech", "fastspeech2", "forward_tts", "glow_tts",
		"neuralhmm_tts", "overflow", "speedy_speech", "tacotron", "tacotron2", "tortoise", "vits", "xtts")
)

func familySet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// modelKind says what a stored model is to coqui: "tts model", "vocoder" or
// "other" (voice conversion, a dependency such as a tokenizer, no config).
// The model family of its config.json ("model", as run reads it) decides;
// without a known one, the coqui id it was pulled as (tts_models/...,
// vocoder_models/...).
func modelKind(v *store.Version) (kind, family string) {
	if f, err := os.Open(filepath.Join(v.Dir, "config.json")); err == nil {
		data, err := io.ReadAll(io.LimitReader(f, maxLsConfig+1))
		f.Close()
		if err == nil && len(data) <= maxLsConfig {
			family, _ = config.ModelName(data)
		}
	}
	switch fam := strings.TrimSuffix(family, "_generator"); {
	case vocoderFamilies[fam]:
		return "vocoder", family
	case ttsFamilies[fam]:
		return "tts model", family
	}
	switch id := v.Provenance.Requested; {
	case strings.HasPrefix(id, "vocoder_models/"):
		return "vocoder", family
	case strings.HasPrefix(id, "tts_models/"):
		return "tts model", family
	}
	return "other", family
}

// maxLsConfig caps the config.json ls reads for the model family.
const maxLsConfig = 16 << 20

type rmResult struct {
	Removed string `json:"removed"`
	Root    string `json:"root_digest,omitempty"`
}

func (r rmResult) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "removed %s from the store (its blobs go at the next gc)\n", r.Removed)
	return err
}

type gcResult struct {
	Blobs int   `json:"removed_blobs"`
	Freed int64 `json:"freed_bytes"`
}

func (r gcResult) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "removed %d unused blobs, freed %d bytes\n", r.Blobs, r.Freed)
	return err
}

func newStoreCmds(g *globals) []*cobra.Command {
	var policyPath string
	addPolicy := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (it names the store)")
		return c
	}
	ls := &cobra.Command{
		Use:   "ls [--json]",
		Short: "List the models in the store",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			_, st, err := openStoreToRead(policyPath, "ls")
			if err != nil {
				return err
			}
			out := lsResult{}
			if st == nil {
				return g.printer().Print(out)
			}
			vs, err := st.List()
			if err != nil {
				return err
			}
			for _, v := range vs {
				kind, family := modelKind(v)
				out = append(out, lsRow{Name: v.Name, Kind: kind, Family: family, Version: v.ID, Root: v.Root, Files: v.Files, Bytes: v.Bytes, Created: v.Created.UTC().Format("2006-01-02T15:04:05Z"), Path: v.Dir})
			}
			return g.printer().Print(out)
		},
	}
	pathCmd := &cobra.Command{
		Use:   "path NAME",
		Short: "Print the read-only folder of a stored model (for tts --model_path / tts-server)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			_, st, err := openStoreToRead(policyPath, "path")
			if err != nil {
				return err
			}
			if st == nil {
				return usageError{fmt.Errorf("model %q: %w (the store does not exist yet)", args[0], store.ErrNotFound)}
			}
			v, err := st.Get(args[0])
			if err != nil {
				return usageError{err}
			}
			if enc, err := st.Encrypted(v); err != nil {
				return err
			} else if enc {
				return usageError{fmt.Errorf("model %q is encrypted at rest (store.encryption): its folder holds age files, not the model, and no path to its plaintext can be given (it exists only in memory while `ttsguard run %s` runs; see docs/storage.md)", v.Name, v.Name)}
			}
			if g.json {
				return g.printer().Print(map[string]string{"name": v.Name, "path": v.Dir, "root_digest": v.Root})
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), v.Dir)
			return err
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a model from the store (its blobs go at the next gc)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pol, st, err := openStore(policyPath, "rm")
			if err != nil {
				return err
			}
			root := ""
			if v, err := st.Get(args[0]); err == nil {
				root = v.Root
			}
			if err := st.Remove(args[0]); err != nil {
				return usageError{err}
			}
			if err := g.printer().Print(rmResult{Removed: args[0], Root: root}); err != nil {
				return err
			}
			return logEvent(g, pol, audit.Event{Command: "rm", Model: args[0], Root: root, OK: true}, true)
		},
	}
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Delete blobs no model uses and leftovers of interrupted pulls",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			pol, st, err := openStore(policyPath, "gc")
			if err != nil {
				return err
			}
			n, freed, err := st.GC()
			if err != nil {
				return err
			}
			if err := g.printer().Print(gcResult{Blobs: n, Freed: freed}); err != nil {
				return err
			}
			return logEvent(g, pol, audit.Event{Command: "gc", OK: true, Detail: fmt.Sprintf("removed %d blobs, freed %d bytes", n, freed)}, true)
		},
	}
	lock := &cobra.Command{Use: "lock", Short: "Manage the lock file (ttsguard.lock)"}
	var o pull.Options
	update := &cobra.Command{
		Use:   "update NAME",
		Short: "Accept a new upstream version of a pinned model: pull it again and show which files changed",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pol, err := loadPolicyFor(policyPath, "lock update")
			if err != nil {
				return err
			}
			lp, err := pol.LockPath()
			if err != nil {
				return err
			}
			lf, err := store.LoadLock(lp)
			if err != nil {
				return err
			}
			e, ok := lf.Entries[args[0]]
			if !ok {
				return usagef("%q is not in the lock file %s", args[0], lp)
			}
			o.Policy, o.Version, o.Update, o.Name, o.Progress = pol, Version(), true, args[0], progressBar(g.stderr)
			r, err := pull.Pull(c.Context(), o, e.Source)
			if r != nil {
				if perr := g.printer().Print(newPullResult(r, "lock update")); perr != nil && err == nil {
					return perr
				}
				for _, e := range pullEvents("lock-update", r, err) {
					if lerr := logEventAfter(g, pol, e, true, err); lerr != nil {
						return lerr
					}
				}
			}
			return pullErr(err)
		},
	}
	update.Flags().StringVar(&o.Catalog, "catalog", "", "coqui .models.json catalog")
	update.Flags().BoolVar(&o.AcceptTOS, "accept-tos", false, "accept the terms of service of coqui models that require it")
	lock.AddCommand(addPolicy(update))
	pc := &cobra.Command{Use: "policy", Short: "Work with the trust policy"}
	pcheck := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a policy and print the effective policy",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p := policyPath
			if len(args) == 1 {
				p = args[0]
			}
			pol, err := loadPolicy(p)
			if err != nil {
				return err
			}
			if g.json {
				// The same shape and names as the YAML (docs/policy.md).
				v, err := pol.MarshalYAML()
				if err != nil {
					return err
				}
				return g.printer().Print(v)
			}
			from := pol.Path
			if from == "" {
				from = "built-in default"
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "# policy OK: %s\n%s", from, pol.String())
			return err
		},
	}
	pc.AddCommand(pcheck)
	return []*cobra.Command{addPolicy(ls), addPolicy(pathCmd), addPolicy(rm), addPolicy(gc), lock, pc}
}
