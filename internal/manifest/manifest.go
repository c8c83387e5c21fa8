package manifest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
)

// Serialization methods.
const (
	MethodFiles  = "files"
	MethodShards = "shards"
)

// DefaultShardSize is the reference's default shard size (1,000,000,000 bytes).
const DefaultShardSize = 1_000_000_000

// Options are the serialization parameters that a statement records.
type Options struct {
	Method        string // MethodFiles or MethodShards
	HashType      string // digest.SHA256 or digest.BLAKE2b
	ShardSize     int64  // shards mode only
	AllowSymlinks bool
	IgnorePaths   []string // POSIX, relative to the model root, as recorded in the statement
	Workers       int      // hashing goroutines; 0 = one per CPU
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.HashType == "" {
		o.HashType = digest.SHA256
	}
	if _, err := digest.New(o.HashType); err != nil {
		return err
	}
	switch o.Method {
	case "", MethodFiles:
		o.Method = MethodFiles
		o.ShardSize = 0
	case MethodShards:
		if o.ShardSize == 0 {
			o.ShardSize = DefaultShardSize
		}
		if o.ShardSize < 0 {
			return fmt.Errorf("shard size %d: must be positive", o.ShardSize)
		}
	default:
		return fmt.Errorf("serialization method %q: want files or shards", o.Method)
	}
	return nil
}

// Algorithm is the resource algorithm name: "sha256" in files mode,
// "sha256-sharded-<N>" in shards mode.
func (o Options) Algorithm() string {
	if o.Method == MethodShards {
		return o.HashType + "-sharded-" + strconv.FormatInt(o.ShardSize, 10)
	}
	return o.HashType
}

// Item is one signed resource: a whole file, or a shard of one.
type Item struct {
	Name   string // "path" (files) or "path:start:end" (shards, end exclusive)
	File   string // the model-relative file name the item belongs to
	Start  int64
	End    int64
	Digest []byte
}

// Manifest is a model serialized per Options.
type Manifest struct {
	Options Options
	Items   []Item // in signing order (see Less)
	Files   int
	Bytes   int64
	Elapsed time.Duration
}

// Root is the SHA-256 over the concatenated raw item digests in order.
func (m *Manifest) Root() digest.Digest { return RootOf(m.Items) }

// RootOf computes the root digest over items in the order given.
func RootOf(items []Item) digest.Digest {
	parts := make([][]byte, len(items))
	for i, it := range items {
		parts[i] = it.Digest
	}
	return digest.SHA256Of(parts...)
}

// Plan turns listed files into items without hashing them. It fails in
// shards mode on a name holding ':' (the item name would be ambiguous).
func Plan(files []File, o Options) ([]Item, []digest.Task, error) {
	var items []Item
	var tasks []digest.Task
	for _, f := range files {
		if o.Method == MethodFiles {
			items = append(items, Item{Name: f.Name, File: f.Name, End: f.Size})
			tasks = append(tasks, digest.Task{Path: f.Path, Length: f.Size, Size: f.Size, NoFollow: !f.Link})
			continue
		}
		if strings.Contains(f.Name, ":") {
			return nil, nil, fmt.Errorf("%q: %w", f.Path, ErrColonInName)
		}
		for start := int64(0); start < f.Size; start += o.ShardSize {
			end := min(start+o.ShardSize, f.Size)
			items = append(items, Item{Name: ShardName(f.Name, start, end), File: f.Name, Start: start, End: end})
			tasks = append(tasks, digest.Task{Path: f.Path, Offset: start, Length: end - start, Size: f.Size, NoFollow: !f.Link})
		}
	}
	return items, tasks, nil
}

// ShardName is "<path>:<start>:<end>".
func ShardName(name string, start, end int64) string {
	return name + ":" + strconv.FormatInt(start, 10) + ":" + strconv.FormatInt(end, 10)
}

// ParseShardName splits "<path>:<start>:<end>" from the right.
func ParseShardName(s string) (name string, start, end int64, err error) {
	i := strings.LastIndexByte(s, ':')
	j := -1
	if i > 0 {
		j = strings.LastIndexByte(s[:i], ':')
	}
	if j <= 0 {
		return "", 0, 0, fmt.Errorf("shard name %q: want <path>:<start>:<end>", s)
	}
	start, err1 := strconv.ParseInt(s[j+1:i], 10, 64)
	end, err2 := strconv.ParseInt(s[i+1:], 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end <= start {
		return "", 0, 0, fmt.Errorf("shard name %q: bad byte range", s)
	}
	return s[:j], start, end, nil
}

// Build walks and hashes the model at root.
func Build(ctx context.Context, root string, o Options) (*Manifest, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	files, err := Walk(root, WalkOptions{AllowSymlinks: o.AllowSymlinks, IgnorePaths: o.IgnorePaths})
	if err != nil {
		return nil, err
	}
	m, err := Hash(ctx, files, o)
	if err != nil {
		return nil, err
	}
	m.Elapsed = time.Since(t0)
	return m, nil
}

// Hash hashes already-listed files and returns them ordered.
func Hash(ctx context.Context, files []File, o Options) (*Manifest, error) {
	items, tasks, err := Plan(files, o)
	if err != nil {
		return nil, err
	}
	sums, st, err := digest.Run(ctx, o.HashType, tasks, o.Workers)
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i].Digest = sums[i]
	}
	Sort(items)
	return &Manifest{Options: o, Items: items, Files: len(files), Bytes: st.Bytes}, nil
}

// Sort orders items the way the reference does: by path components, then by
// shard start and end numerically. So "checkpoint/a" < "checkpoint-1000/a"
// and "tokenizer/vocab.txt" < "tokenizer.json", although byte order says otherwise.
func Sort(items []Item) {
	sort.SliceStable(items, func(a, b int) bool { return Less(items[a], items[b]) })
}

// Less is the reference's resource order.
func Less(a, b Item) bool {
	if c := ComparePaths(a.File, b.File); c != 0 {
		return c < 0
	}
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	return a.End < b.End
}

// ComparePaths compares POSIX paths component by component.
func ComparePaths(a, b string) int {
	for {
		ca, ra, okA := strings.Cut(a, "/")
		cb, rb, okB := strings.Cut(b, "/")
		if c := strings.Compare(ca, cb); c != 0 {
			return c
		}
		switch {
		case !okA && !okB:
			return 0
		case !okA:
			return -1
		case !okB:
			return 1
		}
		a, b = ra, rb
	}
}
