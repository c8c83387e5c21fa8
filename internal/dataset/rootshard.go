package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
)

// ShardFiles is one shard's part of the dataset folder's OMS root digest
// (files mode): every shard lists the whole folder, hashes the files it
// owns (by the same key as the clips: the shard that decodes a clip hashes
// its file), and the merge builds the root from all the pieces.
type ShardFiles struct {
	// Total counts the files of the folder (after the OMS ignore paths)
	// and ListDigest is the SHA-256 of their names and sizes: the same in
	// every shard of one folder.
	Total      int          `json:"total"`
	ListDigest string       `json:"list_digest,omitempty"`
	Items      []FileDigest `json:"items,omitempty"` // the files this shard hashed, by name
	// Error says why the folder has no root digest (a link in it, ...);
	// then there is no list and no item.
	Error string `json:"error,omitempty"`
}

// FileDigest is one file's SHA-256 (hex), by its name in the manifest.
type FileDigest struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// fileOwner is the shard of n that hashes the file called name: the one
// that decodes it when it is a clip.
func fileOwner(name string, n int) int { return shardOf("audio\x00"+name, n) }

// listDigest is the SHA-256 of every file's name and size, in name order.
func listDigest(files []manifest.File) string {
	s := slices.Clone(files)
	slices.SortFunc(s, func(a, b manifest.File) int { return strings.Compare(a.Name, b.Name) })
	h := sha256.New()
	var n [8]byte
	for _, f := range s {
		binary.BigEndian.PutUint64(n[:], uint64(len(f.Name)))
		h.Write(n[:])
		h.Write([]byte(f.Name))
		binary.BigEndian.PutUint64(n[:], uint64(f.Size))
		h.Write(n[:])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// FolderShardFiles lists the dataset folder root as `ttsguard digest`
// does (files mode) and hashes the files shard sh owns; a folder that
// cannot be digested (a link inside) gives the reason instead.
func FolderShardFiles(ctx context.Context, root string, sh Shard) *ShardFiles {
	files, mo, err := oms.ListFiles(root, oms.ModelOptions{Method: manifest.MethodFiles})
	if err != nil {
		return &ShardFiles{Error: err.Error()}
	}
	sf, err := HashShardFiles(ctx, files, mo, sh)
	if err != nil {
		return &ShardFiles{Error: err.Error()}
	}
	return sf
}

// HashShardFiles hashes the files of a folder (files, listed with the
// manifest options mo, files mode) that shard sh owns.
func HashShardFiles(ctx context.Context, files []manifest.File, mo manifest.Options, sh Shard) (*ShardFiles, error) {
	if mo.Method != manifest.MethodFiles {
		return nil, fmt.Errorf("shard root digests are built in files mode, not %s", mo.Method)
	}
	var mine []manifest.File
	for _, f := range files {
		if fileOwner(f.Name, sh.N) == sh.I {
			mine = append(mine, f)
		}
	}
	m, err := manifest.Hash(ctx, mine, mo)
	if err != nil {
		return nil, err
	}
	sf := &ShardFiles{Total: len(files), ListDigest: listDigest(files)}
	for _, it := range m.Items {
		sf.Items = append(sf.Items, FileDigest{Name: it.Name, SHA256: hex.EncodeToString(it.Digest)})
	}
	return sf, nil
}

// check validates one shard's files: the shard owns each, names unique.
func (sf *ShardFiles) check(i, n int) error {
	switch {
	case sf.Error != "" && (len(sf.Items) > 0 || sf.ListDigest != "" || sf.Total != 0):
		return fmt.Errorf("files: an error and a list")
	case sf.Error == "" && !isDigest(sf.ListDigest):
		return fmt.Errorf("files: list_digest %q is not sha256:HEX", sf.ListDigest)
	case sf.Total < 0 || len(sf.Items) > sf.Total:
		return fmt.Errorf("files: %d items of %d files", len(sf.Items), sf.Total)
	}
	seen := map[string]bool{}
	for j, f := range sf.Items {
		switch {
		case f.Name == "" || seen[f.Name]:
			return fmt.Errorf("files.items[%d]: name %q empty or twice", j, f.Name)
		case !isDigest("sha256:" + f.SHA256):
			return fmt.Errorf("files.items[%d] (%q): sha256 %q is not 64 hex digits", j, f.Name, f.SHA256)
		case fileOwner(f.Name, n) != i:
			return fmt.Errorf("files.items[%d] (%q) belongs to shard %d/%d, not this one", j, f.Name, fileOwner(f.Name, n), n)
		}
		seen[f.Name] = true
	}
	return nil
}

// mergeRoot builds a dataset's root digest from every shard's files
// (given in shard order, each checked): the root, or why there is none.
func mergeRoot(parts []*ShardFiles) (root, why string) {
	first := parts[0]
	for _, sf := range parts {
		if sf == nil {
			return "", "a shard hashed no files (audited without its folder's root digest)"
		}
		if sf.Total != first.Total || sf.ListDigest != first.ListDigest || sf.Error != first.Error {
			return "", "the shards listed different files in the folder (it changed while they ran?)"
		}
	}
	if first.Error != "" {
		return "", first.Error
	}
	var items []manifest.Item
	for _, sf := range parts {
		for _, f := range sf.Items {
			d, _ := hex.DecodeString(f.SHA256) // checked
			items = append(items, manifest.Item{Name: f.Name, File: f.Name, Digest: d})
		}
	}
	if len(items) != first.Total {
		return "", fmt.Sprintf("the shards hashed %d of the folder's %d files", len(items), first.Total)
	}
	manifest.Sort(items)
	return manifest.RootOf(items).String(), ""
}
