package dataset

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/dataset/audio"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// ShardFormat and ShardVersion identify a shard report (docs/formats.md).
const (
	ShardFormat  = "ttsguard-dataset-shard"
	ShardVersion = 1
)

// ShardReport is what `dataset audit --shard I/N` writes: the first phase
// of the audit (Evidence) of the rows and clips shard I of N owns, for
// each dataset audited, and what the shards must agree on to be merged.
type ShardReport struct {
	Format  string `json:"format"`  // ShardFormat
	Version int    `json:"version"` // ShardVersion
	Tool    string `json:"tool"`    // the ttsguard version that wrote it
	Shard   int    `json:"shard"`
	Shards  int    `json:"shards"`
	// PolicyDigest is the SHA-256 of the policy's dataset section as the
	// audit used it (thresholds, severity overrides, ignores);
	// SettingsDigest that of the config's settings the row and clip rules
	// use (sample rate, character set, text cleaner).
	PolicyDigest   string      `json:"policy_digest"`
	SettingsDigest string      `json:"settings_digest"`
	Datasets       []ShardPart `json:"datasets"`
	// MAC authenticates the report with a key the shard workers and the
	// merge share (WriteMAC): "hmac-sha256:HEX" over the report's bytes
	// before it, the last member of the object; "" for none.
	MAC string `json:"mac,omitempty"`
}

// ShardPart is one dataset's evidence in a shard report; Name is the
// config's datasets[] entry ("" for a single folder).
type ShardPart struct {
	Name string `json:"name,omitempty"`
	Evidence
	// Files is the shard's part of the folder's root digest (set by the
	// caller, HashShardFiles); nil when it hashed none.
	Files *ShardFiles `json:"files,omitempty"`
}

// policyDigest is the SHA-256 of what of the policy judges findings.
func policyDigest(opt Options) string {
	v := struct {
		Thresholds Thresholds
		Severity   map[string]scan.Severity
		Ignore     []Ignore
	}{opt.Thresholds, opt.Severity, opt.Ignore}
	if len(v.Severity) == 0 {
		v.Severity = nil
	}
	if len(v.Ignore) == 0 {
		v.Ignore = nil
	}
	return jsonDigest(v)
}

// settingsDigest is the SHA-256 of the config's settings the row and clip
// rules use.
func settingsDigest(opt Options) string {
	var cs []rune
	for r, ok := range opt.Charset {
		if ok {
			cs = append(cs, r)
		}
	}
	slices.Sort(cs)
	return jsonDigest(struct {
		SampleRate int
		Charset    []rune
		Cleaner    string
	}{opt.SampleRate, cs, opt.Cleaner})
}

func jsonDigest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// AuditShard runs the first phase of the audit on shard sh of every part
// (opt as for AuditParts; a single folder is one part without a name):
// every shard reads all the metadata, and applies the row rules to and
// decodes the audio of only the rows it owns (by the SHA-256 of their
// clip's path, ownerKey). tool is the ttsguard version, which merge
// checks.
func AuditShard(ctx context.Context, parts []Part, opt Options, sh Shard, tool string) (*ShardReport, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no dataset to audit")
	}
	if sh.N < 1 || sh.N > MaxShards || sh.I < 0 || sh.I >= sh.N {
		return nil, fmt.Errorf("shard %d/%d: want 0 <= I < N <= %d", sh.I, sh.N, MaxShards)
	}
	if opt.Thresholds == (Thresholds{}) {
		opt.Thresholds = DefaultThresholds
	}
	sr := &ShardReport{Format: ShardFormat, Version: ShardVersion, Tool: tool, Shard: sh.I, Shards: sh.N,
		PolicyDigest: policyDigest(opt), SettingsDigest: settingsDigest(opt)}
	for _, p := range parts {
		ev, err := collect(ctx, p.FS, p.Root, partOptions(opt, p), sh)
		if err != nil {
			if p.Name != "" {
				return nil, fmt.Errorf("%s (%s, formatter %s): %w", p.Name, p.Root, p.Formatter, err)
			}
			return nil, err
		}
		sr.Datasets = append(sr.Datasets, ShardPart{Name: p.Name, Evidence: *ev})
	}
	return sr, nil
}

// MaxShardReport bounds the bytes of one shard report ReadShardReport
// accepts: about 0.7 MiB of evidence an hour of audio, so a shard of some
// 5,000 hours (cut a larger corpus into more shards).
const MaxShardReport = 4 << 30

// undecoded are the rules that say why a clip has no evidence.
var undecoded = []string{"audio/missing", "audio/unreadable", "audio/not-regular", "audio/not-decoded", "meta/symlink", "meta/path-escape"}

// MaxClipSeconds bounds a clip's duration in a shard report (115 days, far
// above any clip's): the sums of the composition stay finite.
const MaxClipSeconds = 10_000_000

// maxShardReport is MaxShardReport (a test lowers it).
var maxShardReport int64 = MaxShardReport

// ReadShardReport reads one shard report (untrusted: it is checked for
// everything Merge relies on, and name is in every error).
func ReadShardReport(r io.Reader, name string, key []byte) (*ShardReport, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxShardReport+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	case int64(len(raw)) > maxShardReport:
		return nil, fmt.Errorf("%s: larger than %d bytes: not a shard report this ttsguard reads", name, maxShardReport)
	}
	signed, mac, hasMAC := splitMAC(raw)
	switch {
	case key != nil && !hasMAC:
		return nil, fmt.Errorf("%w: %s: not authenticated: the shard workers were given no --shard-key (or the report was rewritten)", ErrUnauthentic, name)
	case key != nil && !hmac.Equal(mac, reportMAC(key, signed)):
		return nil, fmt.Errorf("%w: %s: its MAC does not verify with this --shard-key: the report was changed after its shard wrote it, or another key wrote it", ErrUnauthentic, name)
	case key == nil && hasMAC:
		return nil, fmt.Errorf("%s: the report is authenticated: give merge the --shard-key the shards used", name)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var sr ShardReport
	err = dec.Decode(&sr)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = fmt.Errorf("more after the JSON value")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a shard report: %v", name, err)
	}
	if sr.MAC != "" && (!hasMAC || sr.MAC != "hmac-sha256:"+hex.EncodeToString(mac)) {
		return nil, fmt.Errorf("%s: a mac member that is not the report's last", name)
	}
	if err := sr.check(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &sr, nil
}

// ErrUnauthentic: a shard report without the MAC of the merge's key.
var ErrUnauthentic = errors.New("shard report not authentic")

// MinShardKey is the shortest --shard-key accepted, in bytes.
const MinShardKey = 32

// macMember is how WriteMAC ends a report: the last member of its object.
const macMember = `,"mac":"hmac-sha256:`

// reportMAC is the HMAC-SHA-256 of a report's bytes without its MAC.
func reportMAC(key, signed []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(signed)
	return m.Sum(nil)
}

// splitMAC finds the MAC WriteMAC appends: raw must end with
// `,"mac":"hmac-sha256:HEX"}` and an optional newline; signed is the
// report before that member, closed again ("...}"), as WriteMAC hashed it.
func splitMAC(raw []byte) (signed, mac []byte, ok bool) {
	body := bytes.TrimSuffix(raw, []byte("\n"))
	tail := len(macMember) + 2*sha256.Size + len(`"}`)
	if len(body) < tail || !bytes.HasSuffix(body, []byte(`"}`)) {
		return nil, nil, false
	}
	at := len(body) - tail
	if !bytes.Equal(body[at:at+len(macMember)], []byte(macMember)) {
		return nil, nil, false
	}
	mac, err := hex.DecodeString(string(body[at+len(macMember) : len(body)-2]))
	if err != nil {
		return nil, nil, false
	}
	return append(bytes.Clone(body[:at]), '}'), mac, true
}

// WriteMAC writes the report as WriteJSON does, authenticated with key
// (at least MinShardKey bytes, shared by the shard workers and the merge):
// its last member is the HMAC-SHA-256 of the bytes before it.
func (sr *ShardReport) WriteMAC(w io.Writer, key []byte) error {
	if len(key) < MinShardKey {
		return fmt.Errorf("a shard key of %d bytes: want at least %d", len(key), MinShardKey)
	}
	c := *sr
	c.MAC = ""
	var b bytes.Buffer
	if err := c.WriteJSON(&b); err != nil {
		return err
	}
	signed := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	out := append(bytes.Clone(signed[:len(signed)-1]), macMember...)
	out = append(out, hex.EncodeToString(reportMAC(key, signed))...)
	out = append(out, "\"}\n"...)
	_, err := w.Write(out)
	return err
}

// check validates one shard report on its own.
func (sr *ShardReport) check() error {
	switch {
	case sr.Format != ShardFormat:
		return fmt.Errorf("format %q, want %q", sr.Format, ShardFormat)
	case sr.Version != ShardVersion:
		return fmt.Errorf("version %d, this ttsguard reads version %d", sr.Version, ShardVersion)
	case sr.Shards < 1 || sr.Shards > MaxShards || sr.Shard < 0 || sr.Shard >= sr.Shards:
		return fmt.Errorf("shard %d/%d: want 0 <= I < N <= %d", sr.Shard, sr.Shards, MaxShards)
	case !isDigest(sr.PolicyDigest) || !isDigest(sr.SettingsDigest):
		return fmt.Errorf("policy_digest and settings_digest must be sha256:HEX")
	case len(sr.Datasets) == 0:
		return fmt.Errorf("no datasets")
	}
	for k := range sr.Datasets {
		if err := sr.Datasets[k].check(sr.Shard, sr.Shards); err != nil {
			return fmt.Errorf("datasets[%d]: %v", k, err)
		}
	}
	return nil
}

func isDigest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	b, err := hex.DecodeString(h)
	return ok && err == nil && len(b) == sha256.Size && h == strings.ToLower(h)
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// check validates one dataset's evidence from shard i of n: rows in index
// order and owned by the shard, clips owned, referenced and unique,
// measures in range, findings of known rules.
func (p *ShardPart) check(i, n int) error {
	for _, s := range append([]string{p.Name, p.Root, p.Language, p.MetaFile, p.MetaFileVal}, p.MetaFiles...) {
		if !visible(s) {
			return fmt.Errorf("control or invisible characters in the dataset's name, root, language or metadata files: %q", s)
		}
	}
	switch {
	case p.Rows < 0 || len(p.RowList) > p.Rows:
		return fmt.Errorf("%d rows of evidence for %d rows", len(p.RowList), p.Rows)
	case !isDigest(p.RowsDigest):
		return fmt.Errorf("rows_digest %q is not sha256:HEX", p.RowsDigest)
	case !slices.Contains(Formatters, p.Formatter):
		return fmt.Errorf("unknown formatter %q", p.Formatter)
	}
	if p.Files != nil {
		if err := p.Files.check(i, n); err != nil {
			return err
		}
	}
	referenced := map[string]bool{}
	for j, r := range p.RowList {
		switch {
		case r.Index < 0 || r.Index >= p.Rows || j > 0 && r.Index <= p.RowList[j-1].Index:
			return fmt.Errorf("row_evidence[%d]: index %d out of order or outside 0-%d", j, r.Index, p.Rows-1)
		case r.Line < 1:
			return fmt.Errorf("row_evidence[%d]: line %d", j, r.Line)
		case shardOf(ownerKey(r), n) != i:
			return fmt.Errorf("row_evidence[%d] (%s:%d) belongs to shard %d/%d, not this one", j, safe(r.MetaFile), r.Line, shardOf(ownerKey(r), n), n)
		}
		referenced[r.Audio] = true
	}
	seen := map[string]bool{}
	for j, c := range p.Clips {
		switch {
		case c.Audio == "" || !referenced[c.Audio]:
			return fmt.Errorf("clips[%d]: audio %q is no row's of this shard", j, c.Audio)
		case seen[c.Audio]:
			return fmt.Errorf("clips[%d]: audio %q twice", j, c.Audio)
		case c.Frames < 0 || !isFinite(c.Seconds) || c.Seconds < 0 || c.Seconds > MaxClipSeconds:
			return fmt.Errorf("clips[%d] (%q): frames %d, seconds %g", j, c.Audio, c.Frames, c.Seconds)
		case !visible(c.Format):
			return fmt.Errorf("clips[%d] (%q): format %q", j, c.Audio, c.Format)
		case c.SHA256 != "" && !isDigest("sha256:"+c.SHA256):
			return fmt.Errorf("clips[%d] (%q): sha256 %q is not 64 hex digits", j, c.Audio, c.SHA256)
		case len(c.Fingerprint) > audio.MaxFingerprintFrames || len(c.Pitch) > audio.MaxFingerprintFrames:
			return fmt.Errorf("clips[%d] (%q): fingerprint or pitch longer than %d frames", j, c.Audio, audio.MaxFingerprintFrames)
		}
		seen[c.Audio] = true
	}
	located := map[string]bool{} // FILE\x00LINE of each finding
	for j, f := range p.Findings {
		if !slices.Contains(Rules, f.Rule) || f.Severity < scan.Info || f.Severity > scan.Critical || f.Line < 0 || f.Dataset != "" {
			return fmt.Errorf("findings[%d]: rule %q, severity %v, line %d, dataset %q", j, f.Rule, f.Severity, f.Line, f.Dataset)
		}
		if !visible(f.Message) || !visible(f.Field) {
			return fmt.Errorf("findings[%d]: control or invisible characters in its message or field", j)
		}
		if slices.Contains(undecoded, f.Rule) {
			located[f.File+"\x00"+strconv.Itoa(f.Line)] = true
		}
	}
	// every clip of the shard's rows has evidence, or a finding at a row
	// that references it says why it was not decoded (undecoded): a report
	// cannot drop a clip from the cross-clip rules in silence, nor with a
	// finding of another rule beside it
	explained := map[string]bool{}
	for _, r := range p.RowList {
		if located[r.MetaFile+"\x00"+strconv.Itoa(r.Line)] {
			explained[r.Audio] = true
		}
	}
	for a := range referenced {
		if a != "" && !seen[a] && !explained[a] {
			return fmt.Errorf("audio %q of this shard's rows has neither evidence nor a finding", a)
		}
	}
	if len(p.Spectra) > MaxSpectra {
		return fmt.Errorf("%d spectra, at most %d", len(p.Spectra), MaxSpectra)
	}
	for j, s := range p.Spectra {
		c := s.Spectrum
		ok := seen[c.Audio] && isFinite(s.Prominence) && len(c.PowerDB) <= audio.SpectrumSize/2+1 &&
			isFinite(c.BinHz) && isFinite(c.BandHz) && isFinite(c.ToneHz) && isFinite(c.Prominence) && c.Clip == "" && c.File == "" && c.Line == 0
		for _, v := range c.PowerDB {
			ok = ok && isFinite(v)
		}
		if !ok {
			return fmt.Errorf("spectra[%d] (%q): not a spectrum of a clip of this shard", j, c.Audio)
		}
	}
	return nil
}

// Merge combines the reports of every shard of one audit (names: their
// files, for errors) and runs the cross-clip rules on the evidence put
// together, with opt (whose policy must be the one the shards used; tool
// is this ttsguard's version, which wrote them): the report is the one the
// unsharded audit gives. Every shard must be there exactly once and agree
// on the datasets, the policy and the settings.
func Merge(shards []*ShardReport, names []string, opt Options, tool string) (*Report, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("no shard reports")
	}
	if len(names) != len(shards) {
		return nil, fmt.Errorf("%d shard reports, %d names", len(shards), len(names))
	}
	if opt.Thresholds == (Thresholds{}) {
		opt.Thresholds = DefaultThresholds
	}
	first := shards[0]
	n := first.Shards
	at := make([]int, n) // shard -> position in shards, plus one
	for k, sr := range shards {
		switch {
		case sr.Shards != n:
			return nil, fmt.Errorf("%s: shard %d/%d, but %s is shard %d/%d: not one audit", names[k], sr.Shard, sr.Shards, names[0], first.Shard, n)
		case at[sr.Shard] != 0:
			return nil, fmt.Errorf("%s and %s are both shard %d/%d", names[at[sr.Shard]-1], names[k], sr.Shard, n)
		case sr.Tool != tool:
			return nil, fmt.Errorf("%s: written by ttsguard %s; this is %s: merge shards with the version that wrote them", names[k], sr.Tool, tool)
		case sr.PolicyDigest != policyDigest(opt):
			return nil, fmt.Errorf("%s: audited under another dataset policy (%s; this merge's is %s): give merge the --policy the shards used", names[k], sr.PolicyDigest, policyDigest(opt))
		case sr.SettingsDigest != first.SettingsDigest:
			return nil, fmt.Errorf("%s: audited with other config settings (sample rate, characters, cleaner) than %s", names[k], names[0])
		case len(sr.Datasets) != len(first.Datasets):
			return nil, fmt.Errorf("%s: %d datasets, %s has %d", names[k], len(sr.Datasets), names[0], len(first.Datasets))
		}
		at[sr.Shard] = k + 1
		for d := range sr.Datasets {
			if err := sameDataset(&sr.Datasets[d], &first.Datasets[d]); err != nil {
				return nil, fmt.Errorf("%s: datasets[%d] is not %s's: %v", names[k], d, names[0], err)
			}
		}
	}
	var missing []string
	for s, k := range at {
		if k == 0 {
			missing = append(missing, fmt.Sprintf("%d/%d", s, n))
		}
	}
	if len(missing) > 0 {
		if len(missing) > 10 {
			missing = append(missing[:10], fmt.Sprintf("and %d more", len(missing)-10))
		}
		return nil, fmt.Errorf("missing shard %s: a merge needs all %d", strings.Join(missing, ", "), n)
	}
	evs := make([]*Evidence, len(first.Datasets))
	names2 := make([]string, len(first.Datasets))
	for d := range first.Datasets {
		ev := first.Datasets[d].Evidence // the identity; the lists are put together below
		ev.RowList, ev.Clips, ev.Findings, ev.Spectra = nil, nil, nil, nil
		total := 0
		for _, k := range at {
			total += len(shards[k-1].Datasets[d].RowList)
		}
		if total != ev.Rows {
			return nil, fmt.Errorf("datasets[%d]: the shards hold %d rows of evidence for %d rows", d, total, ev.Rows)
		}
		for _, k := range at { // shard order
			p := &shards[k-1].Datasets[d]
			ev.RowList = append(ev.RowList, p.RowList...)
			ev.Clips = append(ev.Clips, p.Clips...)
			ev.Findings = append(ev.Findings, p.Findings...)
			ev.Spectra = append(ev.Spectra, p.Spectra...)
		}
		slices.SortFunc(ev.RowList, func(a, b RowEvidence) int { return a.Index - b.Index })
		for j, r := range ev.RowList {
			if r.Index != j { // each shard's rows are distinct and in range, and they add up: cannot happen
				return nil, fmt.Errorf("datasets[%d]: row %d is missing", d, j)
			}
		}
		// the rows the shards hold are the rows every shard read: a row's
		// text, speaker, id, place or clip changed in a report is refused
		if got := rowsDigest(ev.RowList); got != ev.RowsDigest {
			return nil, fmt.Errorf("datasets[%d]: the shards' rows hash to %s, not to the rows_digest %s every shard read: a shard report was changed", d, got, ev.RowsDigest)
		}
		evs[d], names2[d] = &ev, first.Datasets[d].Name
	}
	roots := make([]string, len(evs))
	whys := make([]string, len(evs))
	for d := range evs {
		files := make([]*ShardFiles, n)
		for s, k := range at {
			files[s] = shards[k-1].Datasets[d].Files
		}
		// shards that listed different files ran on different states of
		// the folder (or one report is an earlier run's, replayed): their
		// evidence is not one dataset's, and no verdict is given on it
		for s, f := range files {
			if f0 := files[0]; f != nil && f0 != nil && f.Error == "" && f0.Error == "" && (f.ListDigest != f0.ListDigest || f.Total != f0.Total) {
				return nil, fmt.Errorf("datasets[%d]: %s listed %d files in the folder, %s %d others: the shards did not audit one state of it (it changed while they ran, or a report is an earlier run's)",
					d, names[at[s]-1], f.Total, names[at[0]-1], f0.Total)
			}
		}
		roots[d], whys[d] = mergeRoot(files)
	}
	var rep *Report
	if len(evs) == 1 && names2[0] == "" {
		rep = judge(evs[0], evs[0].options(opt))
		rep.RootDigest, rep.RootDigestError = roots[0], whys[0]
	} else {
		rep = judgeParts(names2, evs, opt)
		var errs []string
		for d := range evs {
			rep.Parts[d].RootDigest = roots[d]
			if whys[d] != "" {
				errs = append(errs, fmt.Sprintf("%s: %s", names2[d], whys[d]))
			}
		}
		rep.RootDigestError = strings.Join(errs, "; ")
	}
	rep.Shards = n
	return rep, nil
}

// sameDataset compares the identity of one dataset in two shard reports.
func sameDataset(a, b *ShardPart) error {
	switch {
	case a.Name != b.Name || a.Root != b.Root:
		return fmt.Errorf("dataset %s %q, not %s %q", safe(a.Name), a.Root, safe(b.Name), b.Root)
	case a.Formatter != b.Formatter || a.MetaFile != b.MetaFile || a.MetaFileVal != b.MetaFileVal || a.Language != b.Language:
		return fmt.Errorf("formatter %s, meta files %q and %q, language %q; not %s, %q and %q, %q", a.Formatter, a.MetaFile, a.MetaFileVal, a.Language, b.Formatter, b.MetaFile, b.MetaFileVal, b.Language)
	case a.Rows != b.Rows || a.TrainRows != b.TrainRows || a.RowsDigest != b.RowsDigest || !slices.Equal(a.MetaFiles, b.MetaFiles):
		return fmt.Errorf("other metadata: %d rows (%s), not %d (%s)", a.Rows, a.RowsDigest, b.Rows, b.RowsDigest)
	}
	return nil
}

// WriteJSON writes the shard report as one JSON value.
func (sr *ShardReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(sr)
}
