package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
)

// An audit runs in two phases. The first reads the metadata, applies the
// rules that look at one row or one clip, and decodes the audio; what it
// keeps is Evidence. The second (judge) applies the rules that compare
// clips with each other (the majority format, duplicates and
// near-duplicates, rate outliers, rare tokens, composition) to the
// Evidence alone. An unsharded audit runs both on one machine; a sharded
// one runs the first phase on each shard and `dataset merge` runs the
// second on the shards' evidence put together (shard.go), through the same
// judge.

// RowEvidence is what the cross-clip rules know of one metadata row.
type RowEvidence struct {
	Index    int    `json:"index"` // position among the dataset's rows, in coqui's order
	MetaFile string `json:"meta_file"`
	Line     int    `json:"line"`
	ID       string `json:"id"`
	Text     string `json:"text"`
	Speaker  string `json:"speaker,omitempty"`
	// Audio is the clip's path inside the dataset root; "" when it leaves
	// the root.
	Audio string `json:"audio,omitempty"`
}

// ClipEvidence is what the cross-clip rules know of one decoded clip.
type ClipEvidence struct {
	Audio string `json:"audio"` // path inside the dataset root
	// Format is "RATE Hz, N ch, ENC" when the clip decoded without error,
	// else "".
	Format  string  `json:"format,omitempty"`
	Frames  int64   `json:"frames,omitempty"`  // sample frames the header gives
	Seconds float64 `json:"seconds,omitempty"` // duration the header gives
	// SHA256 is the hash of the decoded samples (hex), "" when there were
	// none.
	SHA256 string `json:"sha256,omitempty"`
	// Fingerprint and Pitch are one byte per 1/40 s (audio.Stats).
	Fingerprint []byte `json:"fingerprint,omitempty"`
	Pitch       []byte `json:"pitch,omitempty"`
}

// Evidence is the first phase's result for one dataset (or one shard of
// it): every row's identity counted, the rows and clips it owns, the
// findings of the rules on one row or clip (before the policy's severity
// and ignores), and the spectra kept for the plots.
type Evidence struct {
	Root      string `json:"root"`
	Formatter string `json:"formatter"`
	MetaFile  string `json:"meta_file,omitempty"`
	// MetaFileVal is the eval split's metadata file (meta_file_val); its
	// rows follow the TrainRows rows of MetaFile.
	MetaFileVal string   `json:"meta_file_val,omitempty"`
	TrainRows   int      `json:"train_rows,omitempty"`
	Language    string   `json:"language,omitempty"`
	MetaFiles   []string `json:"meta_files"`
	// Rows counts every row of the dataset and RowsDigest is the SHA-256
	// of them all as read (file, line, id, text, speaker, audio path):
	// every shard reads all the metadata, so both are the same in each.
	Rows       int            `json:"rows"`
	RowsDigest string         `json:"rows_digest"`
	RowList    []RowEvidence  `json:"row_evidence"`
	Clips      []ClipEvidence `json:"clips"`
	Findings   []Finding      `json:"findings"`
	Spectra    []KeptSpectrum `json:"spectra,omitempty"`
}

// Shard is slice I of N of a dataset; the zero Shard is the whole.
type Shard struct{ I, N int }

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	var sh Shard
	i, n, ok := cutInts(s)
	if !ok {
		return sh, fmt.Errorf("shard %q: want I/N, two whole numbers (0 <= I < N)", s)
	}
	if n < 1 || n > MaxShards || i < 0 || i >= n {
		return sh, fmt.Errorf("shard %q: want 0 <= I < N <= %d", s, MaxShards)
	}
	return Shard{i, n}, nil
}

// MaxShards bounds N: more shards than this are not a plan for one dataset.
const MaxShards = 100000

func cutInts(s string) (int, int, bool) {
	for k := 0; k < len(s); k++ {
		if s[k] == '/' {
			a, err1 := strconv.Atoi(s[:k])
			b, err2 := strconv.Atoi(s[k+1:])
			return a, b, err1 == nil && err2 == nil && s[:k] == strconv.Itoa(a) && s[k+1:] == strconv.Itoa(b)
		}
	}
	return 0, 0, false
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// whole reports whether s is the whole dataset.
func (s Shard) whole() bool { return s.N <= 1 }

// shardOf is the shard (of n) that owns key: the first 8 bytes of its
// SHA-256 as a big-endian number, modulo n. The same on every machine.
func shardOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := sha256.Sum256([]byte(key))
	return int(binary.BigEndian.Uint64(h[:8]) % uint64(n))
}

// ownerKey is what decides a row's shard: its clip's path inside the root
// (so every row of one clip, and the clip itself, belong to one shard and
// the clip is decoded once), or, for a row whose clip leaves the root,
// its place in the metadata.
func ownerKey(r RowEvidence) string {
	if r.Audio != "" {
		return "audio\x00" + r.Audio
	}
	return "row\x00" + r.MetaFile + "\x00" + strconv.Itoa(r.Line)
}

func rowEvidence(i int, r Row) RowEvidence {
	return RowEvidence{Index: i, MetaFile: r.MetaFile, Line: r.Line, ID: r.ID, Text: r.Text, Speaker: r.Speaker, Audio: r.Clip.Rel}
}

// rowsDigest is the SHA-256 of every row's evidence but its index, each
// field length-prefixed: computed by every shard over all the rows it
// read, and again by the merge over the rows the shards' evidence holds.
func rowsDigest(rows []RowEvidence) string {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, r := range rows {
		put(r.MetaFile)
		put(strconv.Itoa(r.Line))
		put(r.ID)
		put(r.Text)
		put(r.Speaker)
		put(r.Audio)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// collect runs the first phase on shard sh of the dataset in fsys: it
// reads all the metadata, and applies the row rules to, and decodes the
// clips of, only the rows the shard owns. The findings of reading the
// metadata files (meta/*) are shard 0's.
func collect(ctx context.Context, fsys fs.FS, root string, opt Options, sh Shard) (*Evidence, error) {
	ev := &Evidence{Root: root, Formatter: opt.Formatter, MetaFile: opt.MetaFile, MetaFileVal: opt.MetaFileVal, Language: opt.Language}
	load := &Report{}
	rows, err := Load(ctx, fsys, opt.Formatter, opt.MetaFile, load)
	if err != nil {
		return nil, err
	}
	if opt.MetaFileVal != "" {
		// coqui's load_tts_samples: the same formatter on meta_file_val.
		ev.TrainRows = len(rows)
		val, err := Load(ctx, fsys, opt.Formatter, opt.MetaFileVal, load)
		if err != nil {
			return nil, fmt.Errorf("meta_file_val %q: %w", opt.MetaFileVal, err)
		}
		rows = append(rows, val...)
	}
	if sh.I == 0 {
		ev.Findings = load.Findings
	}
	all := make([]RowEvidence, len(rows))
	for i, r := range rows {
		all[i] = rowEvidence(i, r)
	}
	ev.Rows, ev.RowsDigest = len(rows), rowsDigest(all)
	seenMeta := map[string]bool{}
	for _, r := range rows {
		if !seenMeta[r.MetaFile] {
			seenMeta[r.MetaFile] = true
			ev.MetaFiles = append(ev.MetaFiles, r.MetaFile)
		}
	}
	emit := func(f Finding) { ev.Findings = append(ev.Findings, f) }
	var owned []Row
	var todo []string
	queued := map[string]bool{}
	for i, r := range rows {
		re := all[i]
		if !sh.whole() && shardOf(ownerKey(re), sh.N) != sh.I {
			continue
		}
		owned = append(owned, r)
		ev.RowList = append(ev.RowList, re)
		for _, f := range r.Fields {
			fieldRules(r, f.Name, f.Value, emit)
		}
		mixedScript(r, emit)
		if opt.Language != "" {
			scriptRule(r, opt.Language, emit)
		}
		if opt.Charset != nil {
			charsetRule(r, opt.Charset, opt.Cleaner, emit)
		}
		if pathRules(fsys, r, emit) && !queued[r.Clip.Rel] {
			queued[r.Clip.Rel] = true
			todo = append(todo, r.Clip.Rel)
		}
	}
	keeper := &spectrumKeeper{th: opt.Thresholds}
	opt.spectra = keeper
	clips, err := decodeAll(ctx, fsys, todo, opt)
	if err != nil {
		return nil, err
	}
	clipRules(owned, clips, opt, emit)
	for _, rel := range todo {
		if ce, ok := clips[rel].evidence(rel); ok {
			ev.Clips = append(ev.Clips, ce)
		}
	}
	ev.Spectra = keeper.kept
	return ev, nil
}

// options are opt with the dataset's own formatter, meta files and
// language, as its evidence records them.
func (ev *Evidence) options(opt Options) Options {
	opt.Formatter, opt.MetaFile, opt.MetaFileVal, opt.Language = ev.Formatter, ev.MetaFile, ev.MetaFileVal, ev.Language
	return opt
}

// split names the split of a row: "" without an eval split, else "train"
// or "eval".
func (ev *Evidence) split(r RowEvidence) string {
	switch {
	case ev.MetaFileVal == "":
		return ""
	case r.Index < ev.TrainRows:
		return "train"
	}
	return "eval"
}

// evidence is what the cross-clip rules need of a decoded clip; false when
// nothing was decoded.
func (c *clipResult) evidence(rel string) (ClipEvidence, bool) {
	ce := ClipEvidence{Audio: rel, Format: c.format}
	if c.hdr != nil {
		ce.Frames, ce.Seconds = c.hdr.Frames, c.hdr.Duration.Seconds()
	}
	if st := c.stats; st != nil {
		if st.Samples > 0 {
			ce.SHA256 = st.DataSHA256
		}
		ce.Fingerprint, ce.Pitch = st.Fingerprint, st.Pitch
	}
	return ce, c.hdr != nil || c.stats != nil
}

// judge runs the second phase on the evidence of a whole dataset (rows in
// index order, every clip) and returns the report, the policy applied.
func judge(ev *Evidence, opt Options) *Report {
	th := opt.Thresholds
	rep := &Report{Root: ev.Root, Formatter: ev.Formatter, MetaFiles: ev.MetaFiles, Rows: ev.Rows}
	rep.Findings = slices.Clone(ev.Findings)
	clips := make(map[string]*ClipEvidence, len(ev.Clips))
	for i := range ev.Clips {
		clips[ev.Clips[i].Audio] = &ev.Clips[i]
	}
	rows := ev.RowList
	formatRules(rows, clips, rep)
	rareTokens(rows, ev.Language, th, rep.add)
	labelRules(rows, clips, splitLeak(ev.split), th, rep.add)
	composition(rows, clips, ev.Language, th, rep)
	splitImbalance(rows, clips, ev.split, th, rep)
	rep.applyPolicy(opt)
	rep.finish()
	keeper := &spectrumKeeper{th: th}
	for _, k := range ev.Spectra {
		keeper.keep(k)
	}
	rep.plots(rows, clips, opt.LabelPoints, keeper)
	return rep
}
