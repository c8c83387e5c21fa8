package pull

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/fetch"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/store"
	"golang.org/x/sys/unix"
)

// fetchTLS lets tests trust their own loopback servers.
type fetchTLS = tls.Config

// download fetches every URL into dl and places the result in model: an
// archive is extracted (one top folder stripped), a single file keeps the
// base name of its URL.
// known is a file whose SHA-256 was computed while it was written.
type known struct {
	sha256 string
	size   int64
}

func download(ctx context.Context, o Options, urls, names []string, model, dl string, hashed map[string]known) ([]store.SourceRecord, error) {
	tc := o.TLS
	if tc == nil {
		var err error
		if tc, err = o.Policy.TLSConfig(); err != nil {
			return nil, err
		}
	}
	// NoSync: the store fsyncs every file it commits; archives are deleted after extraction.
	c, err := fetch.New(fetch.Options{Check: o.Policy, TLS: tc, Progress: o.Progress, NoSync: true})
	if err != nil {
		return nil, err
	}
	defer c.CloseIdleConnections()
	var recs []store.SourceRecord
	for i, u := range urls {
		d, err := c.Get(ctx, u, dl)
		if err != nil {
			return recs, err
		}
		recs = append(recs, store.SourceRecord{URL: d.URL, FinalURL: d.FinalURL, CertSHA256: d.CertSHA256, SHA256: d.SHA256, Size: d.Size})
		name := fileName(d.FinalURL, d.URL)
		if i < len(names) && names[i] != "" {
			name = names[i] // coqui's name for the file (a single *.pt* becomes model.pth)
		}
		placed, err := place(ctx, d.Path, name, model, len(urls) == 1, hashed)
		if err != nil {
			return recs, fmt.Errorf("%s: %w", u, err)
		}
		if placed != "" {
			hashed[placed] = known{d.SHA256, d.Size}
		}
	}
	return recs, nil
}

// fileName is the last path element of a URL, refused when it could name
// anything but a plain file in the model folder.
func fileName(final, requested string) string {
	for _, raw := range []string{requested, final} {
		if u, err := url.Parse(raw); err == nil {
			if b := path.Base(u.Path); b != "/" && b != "." && b != ".." && b != "" {
				return b
			}
		}
	}
	return ""
}

// place moves a downloaded or local file into the model folder: archives
// are extracted (only when the model is a single archive), other files keep
// their name, which place returns ("" for an archive).
func place(ctx context.Context, file, name, model string, only bool, hashed map[string]known) (string, error) {
	kind, err := fetch.DetectArchive(file)
	if err != nil {
		return "", err
	}
	if kind != "" {
		if !only {
			return "", fmt.Errorf("an archive among several files of one model is not supported")
		}
		x, err := fetch.Extract(ctx, file, kind, model, fetch.Limits{})
		if err != nil {
			return "", err
		}
		for name, sum := range x.SHA256 {
			if st, err := os.Lstat(filepath.Join(model, filepath.FromSlash(name))); err == nil {
				hashed[name] = known{sum, st.Size()}
			}
		}
		return "", nil
	}
	if name == "" || name != filepath.Base(name) {
		return "", fmt.Errorf("cannot name the downloaded file %q", name)
	}
	dst := filepath.Join(model, name)
	if _, err := os.Lstat(dst); err == nil {
		return "", fmt.Errorf("two files named %q", name)
	}
	return name, os.Rename(file, dst)
}

// placeLocal copies a local folder, archive or file into the model folder;
// for an archive or file it returns the SHA-256 of the bytes read. It never
// follows a symbolic link (see localCopy): the source, and every file and
// folder in it, must be what it seemed when it was walked.
func placeLocal(ctx context.Context, src, model, dl string, hashed map[string]known) (string, error) {
	return localCopy{}.place(ctx, src, model, dl, hashed)
}

func (lc localCopy) place(ctx context.Context, src, model, dl string, hashed map[string]known) (string, error) {
	id, err := lstatSource(src)
	if err != nil {
		return "", err
	}
	if id.typ == unix.S_IFDIR {
		return "", lc.copyTree(ctx, src, model, hashed)
	}
	tmp := filepath.Join(dl, "local")
	sum, err := lc.copyOne(ctx, src, tmp)
	if err != nil {
		return "", err
	}
	placed, err := place(ctx, tmp, filepath.Base(src), model, true, hashed)
	if err == nil && placed != "" {
		if st, serr := os.Lstat(filepath.Join(model, placed)); serr == nil {
			hashed[placed] = known{sum, st.Size()}
		}
	}
	return sum, err
}

// buildManifest hashes the staged model in files mode, reusing the digests
// of files hashed while they were downloaded into the private staging folder.
// It also returns the digests paired with the files the walk saw, for the
// signature gate (oms.VerifyOptions.Known).
func buildManifest(ctx context.Context, model string, hashed map[string]known) (*manifest.Manifest, []manifest.Hashed, error) {
	o := manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256,
		IgnorePaths: notModel()}
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	files, err := manifest.Walk(model, manifest.WalkOptions{IgnorePaths: o.IgnorePaths})
	if err != nil {
		return nil, nil, err
	}
	var rest []manifest.File
	var items []manifest.Item
	for _, f := range files {
		k, ok := hashed[f.Name]
		if !ok || k.size != f.Size {
			rest = append(rest, f)
			continue
		}
		d, err := hex.DecodeString(k.sha256)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, manifest.Item{Name: f.Name, File: f.Name, End: f.Size, Digest: d})
	}
	m, err := manifest.Hash(ctx, rest, o)
	if err != nil {
		return nil, nil, err
	}
	for _, it := range items {
		m.Items = append(m.Items, it)
		m.Bytes += it.End
	}
	m.Files = len(files)
	manifest.Sort(m.Items)
	return m, manifest.Pair(files, m.Items), nil
}
