package lineage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
)

// MaxBundle caps the provenance bundle read (the payload, base64, and the
// verification material).
const MaxBundle = 2*MaxPayload + 1<<20

// ErrNoProvenance says a model folder has no provenance.sig.
var ErrNoProvenance = errors.New("no training provenance")

// Verified is the evidence of a provenance check: the bundle's signer, what
// the statement records, and how the model's files compare with its
// subjects.
type Verified struct {
	Model  string      `json:"model"`
	Bundle string      `json:"provenance"`
	Signer *oms.Signer `json:"signer,omitempty"`
	OK     bool        `json:"ok"`
	// Missing are subjects the folder lacks, Extra files it has that are
	// not subjects, Changed files whose content differs.
	Missing []string `json:"missing,omitempty"`
	Extra   []string `json:"extra,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Record  *Record  `json:"lineage,omitempty"`
}

// NotModel are the paths of a model folder that are never its files: the
// default git paths, the OMS signature and the provenance bundle.
func NotModel() []string {
	return append(slices.Clone(manifest.DefaultIgnorePaths), "model.sig", FileName)
}

// ReadBundle reads a model's provenance bundle (at most MaxBundle bytes, a
// regular file, not a link).
func ReadBundle(model string) ([]byte, error) {
	p := filepath.Join(model, FileName)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoProvenance, p)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s: not a regular file", ErrProvenance, p)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxBundle+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBundle {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrProvenance, p, MaxBundle)
	}
	return data, nil
}

// VerifyOptions say how Verify finds the model's files.
type VerifyOptions struct {
	// IgnorePaths are left out of the model besides NotModel (the
	// terms-of-service marker ttsguard writes, say).
	IgnorePaths []string
	// Known, when not nil, are the model's files and their hex SHA-256
	// as the caller hashed and verified them just now: they are compared
	// instead of hashing the folder again.
	Known map[string]string
}

// Verify checks a model folder's provenance.sig: the bundle's signature by
// v, the statement (Parse), and that its subjects are exactly the folder's
// files (every file but NotModel, each with the recorded SHA-256) with the
// recorded OMS root. A bad signature or statement is an error wrapping
// oms.ErrVerification or ErrProvenance (the result's Signer says whether
// the signature verified); files that differ give a result with OK false
// and an error wrapping oms.ErrVerification.
func Verify(ctx context.Context, model string, v oms.SignatureVerifier, o VerifyOptions) (*Verified, error) {
	res := &Verified{Model: model, Bundle: filepath.Join(model, FileName)}
	raw, err := ReadBundle(model)
	if err != nil {
		return nil, err
	}
	payload, who, err := oms.VerifyPayload(raw, v)
	if err != nil {
		return nil, err
	}
	res.Signer = who
	if res.Record, err = Parse(payload); err != nil {
		return res, err
	}
	files := o.Known
	if files == nil {
		m, err := manifest.Build(ctx, model, manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256,
			IgnorePaths: append(NotModel(), o.IgnorePaths...)})
		if err != nil {
			return res, err
		}
		files = map[string]string{}
		for _, it := range m.Items {
			files[it.File] = hex.EncodeToString(it.Digest)
		}
	}
	seen := map[string]bool{}
	var items []manifest.Item
	for f, sum := range files {
		if slices.Contains(o.IgnorePaths, f) {
			continue
		}
		seen[f] = true
		want, ok := res.Record.Subjects[f]
		switch {
		case !ok:
			res.Extra = append(res.Extra, f)
		case want != sum:
			res.Changed = append(res.Changed, f)
		}
		d, err := hex.DecodeString(sum)
		if err != nil {
			return res, fmt.Errorf("%s: digest %q: %w", f, sum, err)
		}
		items = append(items, manifest.Item{File: f, Digest: d})
	}
	sort.Strings(res.Extra)
	sort.Strings(res.Changed)
	for n := range res.Record.Subjects {
		if !seen[n] {
			res.Missing = append(res.Missing, n)
		}
	}
	sort.Strings(res.Missing)
	if len(res.Missing)+len(res.Extra)+len(res.Changed) > 0 {
		return res, fmt.Errorf("%w: %s: the model's files are not the provenance's subjects (%d missing, %d not listed, %d changed)",
			oms.ErrVerification, model, len(res.Missing), len(res.Extra), len(res.Changed))
	}
	sort.SliceStable(items, func(a, b int) bool { return manifest.Less(items[a], items[b]) })
	if got := manifest.RootOf(items).String(); got != res.Record.Root {
		return res, fmt.Errorf("%w: %s: root %s, the provenance records %s", oms.ErrVerification, model, got, res.Record.Root)
	}
	res.OK = true
	return res, nil
}
