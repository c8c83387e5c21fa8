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

// Verify checks a model folder's provenance.sig: the bundle's signature by
// v, the statement (Parse), and that its subjects are exactly the folder's
// files (every file but NotModel, each with the recorded SHA-256) with the
// recorded OMS root. A bad signature or statement is an error wrapping
// oms.ErrVerification or ErrProvenance; files that differ give a result
// with OK false and an error wrapping oms.ErrVerification.
func Verify(ctx context.Context, model string, v oms.SignatureVerifier) (*Verified, error) {
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
	m, err := manifest.Build(ctx, model, manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256, IgnorePaths: NotModel()})
	if err != nil {
		return res, err
	}
	seen := map[string]bool{}
	for _, it := range m.Items {
		seen[it.File] = true
		want, ok := res.Record.Subjects[it.File]
		switch {
		case !ok:
			res.Extra = append(res.Extra, it.File)
		case want != hex.EncodeToString(it.Digest):
			res.Changed = append(res.Changed, it.File)
		}
	}
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
	if got := m.Root().String(); got != res.Record.Root {
		return res, fmt.Errorf("%w: %s: root %s, the provenance records %s", oms.ErrVerification, model, got, res.Record.Root)
	}
	res.OK = true
	return res, nil
}
