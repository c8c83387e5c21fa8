package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// shardAndMerge audits parts as n shards, writes and reads back each
// shard report as JSON, and merges them.
func shardAndMerge(t *testing.T, parts []Part, opt Options, n int) *Report {
	t.Helper()
	srs, names := shardReports(t, parts, opt, n)
	// the merge does not depend on the order the files are given in
	srs[0], srs[n-1] = srs[n-1], srs[0]
	names[0], names[n-1] = names[n-1], names[0]
	rep, err := Merge(srs, names, opt, "test")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Shards != n {
		t.Errorf("merged report says %d shards, want %d", rep.Shards, n)
	}
	rep.Shards = 0
	return rep
}

// shardReports audits the parts as n shards, each with its files' hashes,
// and reads every shard report back from its JSON.
func shardReports(t *testing.T, parts []Part, opt Options, n int) ([]*ShardReport, []string) {
	t.Helper()
	var srs []*ShardReport
	var names []string
	for i := range n {
		sr, err := AuditShard(context.Background(), parts, opt, Shard{i, n}, "test")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := withFiles(sr, parts).WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("shard-%d.json", i)
		back, err := ReadShardReport(&b, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		srs, names = append(srs, back), append(names, name)
	}
	return srs, names
}

// withRoots sets the root digests of an unsharded report as the CLI does
// (oms.Digest of each part's folder, beside the audit).
func withRoots(rep *Report, parts []Part) *Report {
	var errs []string
	for k, p := range parts {
		r, err := oms.Digest(context.Background(), p.Root, oms.ModelOptions{Method: manifest.MethodFiles})
		root, why := "", ""
		if err != nil {
			why = err.Error()
		} else {
			root = r.Root
		}
		if len(parts) == 1 && p.Name == "" {
			rep.RootDigest, rep.RootDigestError = root, why
			return rep
		}
		rep.Parts[k].RootDigest = root
		if why != "" {
			errs = append(errs, p.Name+": "+why)
		}
	}
	rep.RootDigestError = strings.Join(errs, "; ")
	return rep
}

// sameReport compares two reports field by field (all of them, through
// their JSON and as values) and says where they differ.
func sameReport(t *testing.T, what string, got, want *Report) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			t.Errorf("%s: merged report differs from the unsharded one at JSON line %d:\n got %s\nwant %s", what, i+1, gl[i], wl[i])
			return
		}
	}
	t.Errorf("%s: merged report differs from the unsharded one (%d vs %d JSON lines; or in a value JSON does not show)", what, len(gl), len(wl))
}

// TestMergeEqualsAudit: for every dataset of the test corpus (poisoned and
// clean), audited in 1, 2, 3 and 7 shards and merged, the report is the
// unsharded audit's: the same findings in the same order, the same
// silenced ones, composition, counts and plot data.
func TestMergeEqualsAudit(t *testing.T) {
	dir := t.TempDir()
	for _, d := range dstest.Corpus() {
		t.Run(d.Name, func(t *testing.T) {
			root, err := d.Write(dir)
			if err != nil {
				t.Fatal(err)
			}
			opt := optionsFor(t, dir, d)
			opt.LabelPoints = 5
			parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: opt.Formatter, MetaFile: opt.MetaFile, Language: opt.Language}}
			want, err := Audit(context.Background(), os.DirFS(root), root, opt)
			if err != nil {
				t.Fatal(err)
			}
			withRoots(want, parts)
			if len(d.Want) > 0 && len(want.Findings) == 0 {
				t.Fatalf("the poisoned dataset has no finding")
			}
			for _, n := range []int{1, 2, 3, 7} {
				sameReport(t, fmt.Sprintf("%d shards", n), shardAndMerge(t, parts, opt, n), want)
			}
		})
	}
}

// multiSpeaker is a generated coqui dataset of 6 speakers (one with
// little audio), each at its own pitch, with every cross-clip case in
// it: a near-duplicate under another transcript, one file referenced by
// two rows, the same samples in two files, a swapped label, a rare token
// in two rows, a tone above 16 kHz, the same sentence read twice.
func multiSpeaker() *dstest.Dataset {
	d := &dstest.Dataset{Name: "multi-speaker", Formatter: "coqui", Files: map[string][]byte{}}
	meta := "audio_file|text|speaker_name\n"
	type row struct{ path, text, spk string }
	var rows []row
	clips := map[string]dstest.Clip{}
	for i := range 60 {
		spk := i % 5
		text := dstest.Sentences[i%len(dstest.Sentences)]
		seed := uint64(1000 + i)
		c := dstest.Clip{Seconds: dstest.SpeechSeconds(text, seed), Seed: seed, F0: 95 + 30*float64(spk)}
		p := fmt.Sprintf("wavs/spk%d/c%03d.wav", spk, i)
		clips[p] = c
		d.Files[p] = dstest.Encode(c)
		rows = append(rows, row{p, text, fmt.Sprintf("spk%d", spk)})
	}
	// a small speaker
	c := dstest.Clip{Seconds: dstest.SpeechSeconds(dstest.Sentences[0], 7), Seed: 7, F0: 240}
	d.Files["wavs/spk5/c900.wav"] = dstest.Encode(c)
	rows = append(rows, row{"wavs/spk5/c900.wav", dstest.Sentences[0], "spk5"})
	// a quieter, trimmed copy of c003 under another transcript
	d.Files["wavs/spk3/copy.wav"] = clips["wavs/spk3/c003.wav"].Copy(0.6, 0.1, 0.003, 0, 9)
	rows = append(rows, row{"wavs/spk3/copy.wav", "Somebody else wrote this.", "spk3"})
	// c010 again under its own transcript (referenced twice), c011's samples in another file
	rows = append(rows, row{"wavs/spk0/c010.wav", dstest.Sentences[10], "spk0"})
	d.Files["wavs/spk1/same.wav"] = d.Files["wavs/spk1/c011.wav"]
	rows = append(rows, row{"wavs/spk1/same.wav", "A different transcript entirely.", "spk1"})
	// a swapped label: the longest sentence on the shortest clip
	rows[0].text = dstest.Sentences[11] + " " + dstest.Sentences[10]
	// a rare token
	rows[20].text += " zq7"
	rows[41].text += " zq7"
	// a tone at 18.5 kHz (44.1 kHz clip)
	t := dstest.Clip{Seconds: 2, Seed: 77, Rate: 44100, F0: 150, ToneHz: 18500, ToneGain: 0.02}
	d.Files["wavs/spk2/tone.wav"] = dstest.Encode(t)
	rows = append(rows, row{"wavs/spk2/tone.wav", dstest.Sentences[1], "spk2"})
	// a path out of the root and a missing clip
	rows = append(rows, row{"../outside.wav", "Out of the root.", "spk4"}, row{"wavs/spk4/none.wav", "Not there.", "spk4"})
	for _, r := range rows {
		meta += r.path + "|" + r.text + "|" + r.spk + "\n"
	}
	d.Files["metadata.csv"] = []byte(meta)
	return d
}

// TestMergeMultiSpeaker: the generated multi-speaker corpus, with a policy
// that regrades and silences, gives the same report merged from 1, 2, 3
// and 7 shards as unsharded; and the cross-clip findings are there.
func TestMergeMultiSpeaker(t *testing.T) {
	root, err := multiSpeaker().Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Formatter: "coqui", Workers: 2, LabelPoints: 20, Language: "en",
		Severity: map[string]scan.Severity{"label/oversampled": scan.Medium},
		Ignore:   []Ignore{{Rule: "audio/missing", Reason: "test"}}}
	want, err := Audit(context.Background(), os.DirFS(root), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range append(want.Findings, want.Silenced...) {
		got[f.Rule] = true
	}
	for _, r := range []string{"label/near-duplicate-audio", "label/oversampled", "label/duplicate-audio", "label/rate-outlier",
		"text/rare-token", "audio/inaudible-tone", "composition/imbalance", "audio/format-mismatch", "meta/path-escape", "audio/missing"} {
		if !got[r] {
			var sb strings.Builder
			want.Text(&sb)
			t.Errorf("the unsharded audit has no %s finding:\n%s", r, sb.String())
		}
	}
	if len(want.Composition) != 6 || want.Plots == nil || len(want.Plots.Spectra) != 1 || len(want.Silenced) != 1 {
		t.Errorf("composition %d groups, plots %+v, silenced %d", len(want.Composition), want.Plots != nil, len(want.Silenced))
	}
	parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: "coqui", Language: "en"}}
	withRoots(want, parts)
	for _, n := range []int{1, 2, 3, 7} {
		sameReport(t, fmt.Sprintf("%d shards", n), shardAndMerge(t, parts, opt, n), want)
	}
}

// TestMergeParts: a config's two datasets audited in shards and merged give
// AuditParts's report (each dataset's cross-clip rules on its own, the
// language imbalance across them).
func TestMergeParts(t *testing.T) {
	dir := t.TempDir()
	en, err := multiSpeaker().Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	de, err := dstest.LJSpeech("de", dstest.Base("LJ001-", 3)).Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{
		{Name: "datasets[0]", Root: en, FS: os.DirFS(en), Formatter: "coqui", Language: "en"},
		{Name: "datasets[1]", Root: de, FS: os.DirFS(de), Formatter: "ljspeech", Language: "de"},
	}
	opt := Options{Workers: 2, LabelPoints: 10}
	want, err := AuditParts(context.Background(), parts, opt)
	if err != nil {
		t.Fatal(err)
	}
	withRoots(want, parts)
	for _, n := range []int{2, 3} {
		sameReport(t, fmt.Sprintf("%d shards", n), shardAndMerge(t, parts, opt, n), want)
	}
}

// TestShardOwnership: every row and clip is in exactly one shard, every
// row of one clip in the same one, and the shards hold every row.
func TestShardOwnership(t *testing.T) {
	root, err := multiSpeaker().Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: "coqui"}}
	const n = 3
	rowShard := map[int]int{}
	clipShard := map[string]int{}
	rows := 0
	for i := range n {
		sr, err := AuditShard(context.Background(), parts, Options{Workers: 2}, Shard{i, n}, "test")
		if err != nil {
			t.Fatal(err)
		}
		ev := sr.Datasets[0]
		rows = ev.Rows
		if len(ev.RowList) == 0 || len(ev.RowList) == ev.Rows {
			t.Errorf("shard %d holds %d of %d rows", i, len(ev.RowList), ev.Rows)
		}
		for _, r := range ev.RowList {
			if s, ok := rowShard[r.Index]; ok {
				t.Errorf("row %d in shards %d and %d", r.Index, s, i)
			}
			rowShard[r.Index] = i
			if s, ok := clipShard[r.Audio]; ok && r.Audio != "" && s != i {
				t.Errorf("clip %q has rows in shards %d and %d", r.Audio, s, i)
			}
			clipShard[r.Audio] = i
		}
		for _, c := range ev.Clips {
			if clipShard[c.Audio] != i {
				t.Errorf("clip %q decoded by shard %d, its rows are in %d", c.Audio, i, clipShard[c.Audio])
			}
		}
	}
	if len(rowShard) != rows {
		t.Errorf("the shards hold %d of %d rows", len(rowShard), rows)
	}
	// the slice is the SHA-256 of the path, on every machine: pinned here
	// (python3: int.from_bytes(hashlib.sha256(KEY).digest()[:8], "big") % N)
	if a, b := shardOf("audio\x00wavs/spk0/c000.wav", 1000), shardOf("audio\x00wavs/LJ001-0001.wav", 7); a != 655 || b != 3 {
		t.Errorf("shardOf = %d, %d, want 655, 3", a, b)
	}
}

// TestMergeRefuses: missing, duplicate and mismatched shards, another
// policy, another version, bad JSON: each an error naming the file and
// the problem.
func TestMergeRefuses(t *testing.T) {
	dir := t.TempDir()
	root, err := dstest.LJSpeech("lj", dstest.Base("LJ001-", 12)).Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := dstest.LJSpeech("other", dstest.Base("LJ002-", 12)).Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	part := func(r string) []Part { return []Part{{Root: r, FS: os.DirFS(r), Formatter: "ljspeech"}} }
	shard := func(parts []Part, opt Options, i, n int) *ShardReport {
		sr, err := AuditShard(context.Background(), parts, opt, Shard{i, n}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return sr
	}
	a0, a1, a2 := shard(part(root), Options{}, 0, 3), shard(part(root), Options{}, 1, 3), shard(part(root), Options{}, 2, 3)
	moved := []Part{{Root: other, FS: os.DirFS(other), Formatter: "ljspeech"}}
	th := DefaultThresholds
	th.RateZ = 9
	strict := Options{Thresholds: th}
	for _, tc := range []struct {
		name   string
		srs    []*ShardReport
		opt    Options
		tool   string
		want   string
		wantAt string
	}{
		{"missing", []*ShardReport{a0, a2}, Options{}, "test", "missing shard 1/3", ""},
		{"duplicate", []*ShardReport{a0, a1, a1, a2}, Options{}, "test", "f1.json and f2.json are both shard 1/3", ""},
		{"other N", []*ShardReport{a0, a1, shard(part(root), Options{}, 1, 2)}, Options{}, "test", "shard 1/2, but f0.json is shard 0/3", "f2.json"},
		{"other dataset", []*ShardReport{a0, a1, shard(moved, Options{}, 2, 3)}, Options{}, "test", "datasets[0] is not f0.json's", "f2.json"},
		{"other policy in a shard", []*ShardReport{a0, a1, shard(part(root), strict, 2, 3)}, Options{}, "test", "audited under another dataset policy", "f2.json"},
		{"other policy in the merge", []*ShardReport{a0, a1, a2}, strict, "test", "give merge the --policy the shards used", "f0.json"},
		{"other version", []*ShardReport{a0, a1, a2}, Options{}, "v9", "written by ttsguard test; this is v9", "f0.json"},
		{"no shards", nil, Options{}, "test", "no shard reports", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for i := range tc.srs {
				names = append(names, fmt.Sprintf("f%d.json", i))
			}
			_, err := Merge(tc.srs, names, tc.opt, tc.tool)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), tc.wantAt) {
				t.Errorf("Merge: %v, want an error starting %q with %q", err, tc.wantAt, tc.want)
			}
		})
	}
	var good bytes.Buffer
	if err := a1.WriteJSON(&good); err != nil {
		t.Fatal(err)
	}
	defer func(n int64) { maxShardReport = n }(maxShardReport)
	maxShardReport = int64(good.Len() + 200)
	for _, tc := range []struct{ name, json, want string }{
		{"too large", good.String() + strings.Repeat(" ", 300), "larger than"},
		{"truncated", good.String()[:good.Len()/2], "not a shard report"},
		{"two values", good.String() + "{}", "more after the JSON value"},
		{"unknown field", strings.Replace(good.String(), `"format"`, `"extra":1,"format"`, 1), "unknown field"},
		{"other format", strings.Replace(good.String(), ShardFormat, "x", 1), "format"},
		{"other version", strings.Replace(good.String(), `"version":1`, `"version":2`, 1), "version 2"},
		{"bad shard", strings.Replace(good.String(), `"shard":1`, `"shard":3`, 1), "shard 3/3"},
		{"row of another shard", strings.Replace(good.String(), `"shard":1`, `"shard":0`, 1), "belongs to shard 1/3"},
		{"bad severity", strings.Replace(good.String(), `"findings":null`, `"findings":[{"rule":"audio/clipping","severity":"worst","message":"m"}]`, 1), `unknown severity "worst"`},
		{"unknown rule", strings.Replace(good.String(), `"findings":null`, `"findings":[{"rule":"x/y","severity":"low","message":"m"}]`, 1), `rule "x/y"`},
		{"not JSON", "\x00\xff", "not a shard report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadShardReport(strings.NewReader(tc.json), "s.json", nil)
			if err == nil || !strings.HasPrefix(err.Error(), "s.json: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadShardReport: %v, want s.json: ... %q", err, tc.want)
			}
		})
	}
}

// withFiles adds the shard's part of the root digest of parts[k] to each
// dataset of sr, as the CLI does.
func withFiles(sr *ShardReport, parts []Part) *ShardReport {
	for k := range sr.Datasets {
		sr.Datasets[k].Files = FolderShardFiles(context.Background(), parts[k].Root, Shard{sr.Shard, sr.Shards})
	}
	return sr
}

// TestMergeRootDigest: the root digest the shards build together is the
// folder's OMS root digest (what `ttsguard digest` prints), for 1, 2, 3 and
// 7 shards; a shard's file of another shard is refused, a missing one
// leaves no root and says so.
func TestMergeRootDigest(t *testing.T) {
	root, err := multiSpeaker().Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want, err := oms.Digest(context.Background(), root, oms.ModelOptions{Method: manifest.MethodFiles})
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: "coqui"}}
	opt := Options{Workers: 2}
	for _, n := range []int{1, 2, 3, 7} {
		srs, names := shardReports(t, parts, opt, n)
		rep, err := Merge(srs, names, opt, "test")
		if err != nil {
			t.Fatal(err)
		}
		if rep.RootDigest != want.Root || rep.RootDigestError != "" {
			t.Errorf("%d shards: root %q (%q), want %s", n, rep.RootDigest, rep.RootDigestError, want.Root)
		}
		if n != 2 {
			continue
		}
		// a file dropped: no root, and why
		srs[1].Datasets[0].Files.Items = srs[1].Datasets[0].Files.Items[1:]
		rep, err = Merge(srs, names, opt, "test")
		if err != nil || rep.RootDigest != "" || !strings.Contains(rep.RootDigestError, "hashed") {
			t.Errorf("a file dropped: root %q (%q), %v", rep.RootDigest, rep.RootDigestError, err)
		}
		// a file of shard 0 in shard 1: refused on reading
		srs[1].Datasets[0].Files.Items = append(srs[1].Datasets[0].Files.Items, srs[0].Datasets[0].Files.Items[0])
		var b bytes.Buffer
		srs[1].WriteJSON(&b)
		if _, err := ReadShardReport(&b, "s1.json", nil); err == nil || !strings.Contains(err.Error(), "belongs to shard 0/2") {
			t.Errorf("a file of another shard: %v", err)
		}
	}
}

// TestParseShard: I/N with 0 <= I < N; anything else an error.
func TestParseShard(t *testing.T) {
	if s, err := ParseShard("3/8"); err != nil || s != (Shard{3, 8}) {
		t.Errorf("3/8: %v %v", s, err)
	}
	for _, bad := range []string{"", "3", "8/8", "-1/8", "1/0", "0/0", "1/+2", "01/8", "1/8/9", "a/b", " 1/8", "0/100001"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}

// FuzzMerge: any bytes as one shard report of three (the other two real):
// an error or a report, never a crash; an error names the file.
func FuzzMerge(f *testing.F) {
	root, err := dstest.LJSpeech("lj", dstest.Base("LJ001-", 12)).Write(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: "ljspeech"}}
	var good []*ShardReport
	for i := range 3 {
		sr, err := AuditShard(context.Background(), parts, Options{}, Shard{i, 3}, "test")
		if err != nil {
			f.Fatal(err)
		}
		withFiles(sr, parts)
		var b bytes.Buffer
		sr.WriteJSON(&b)
		f.Add(b.Bytes())
		good = append(good, sr)
	}
	f.Add([]byte(`{"format":"ttsguard-dataset-shard","version":1,"shards":3,"shard":2,"datasets":[{"rows":-1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := ReadShardReport(bytes.NewReader(b), "fuzz.json", nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json: ") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		srs := []*ShardReport{good[0], good[1], sr}
		rep, err := Merge(srs, []string{"a.json", "b.json", "fuzz.json"}, Options{}, "test")
		if err == nil && rep.Rows != good[0].Datasets[0].Rows {
			t.Fatalf("merged %d rows, the dataset has %d", rep.Rows, good[0].Datasets[0].Rows)
		}
	})
}

// TestMergeForgedEvidence: the attack review of 2026-12-04 forged a clean
// merge from changed shard reports. A changed transcript (or speaker, id,
// place) no longer matches the rows every shard read; a clip dropped from
// the evidence without a finding, a duration past MaxClipSeconds and
// control characters in a message are refused when the report is read.
func TestMergeForgedEvidence(t *testing.T) {
	root, err := dstest.LJSpeech("lj", dstest.Base("LJ001-", 12)).Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: "ljspeech"}}
	srs, names := shardReports(t, parts, Options{}, 2)
	if _, err := Merge(srs, names, Options{}, "test"); err != nil {
		t.Fatalf("the honest shards: %v", err)
	}
	// a transcript changed in a report: refused by the merge
	orig := srs[0].Datasets[0].RowList[0].Text
	srs[0].Datasets[0].RowList[0].Text = "Something else entirely."
	if _, err := Merge(srs, names, Options{}, "test"); err == nil || !strings.Contains(err.Error(), "a shard report was changed") {
		t.Errorf("a changed transcript: %v", err)
	}
	srs[0].Datasets[0].RowList[0].Text = orig
	// a shard that listed other files: another state of the folder, or an
	// earlier run's report replayed (the second review): no verdict
	listed := srs[1].Datasets[0].Files.ListDigest
	srs[1].Datasets[0].Files.ListDigest = "sha256:" + strings.Repeat("0", 64)
	if _, err := Merge(srs, names, Options{}, "test"); err == nil || !strings.Contains(err.Error(), "did not audit one state") {
		t.Errorf("shards of two states of the folder: %v", err)
	}
	srs[1].Datasets[0].Files.ListDigest = listed

	var b bytes.Buffer
	if err := srs[1].WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	var sr ShardReport
	if err := json.Unmarshal(b.Bytes(), &sr); err != nil || len(sr.Datasets[0].Clips) == 0 {
		t.Fatalf("%v: a shard with no clips", err)
	}
	first := sr.Datasets[0].Clips[0]
	dropped := sr
	dropped.Datasets = []ShardPart{sr.Datasets[0]}
	dropped.Datasets[0].Clips = sr.Datasets[0].Clips[1:]
	var d bytes.Buffer
	dropped.WriteJSON(&d)
	// ... "explained" by a finding of another rule at its row (the second
	// review of 2026-12-04): only a rule that says why a clip was not
	// decoded explains it
	line := 0
	for _, r := range sr.Datasets[0].RowList {
		if r.Audio == first.Audio {
			line = r.Line
		}
	}
	excused := dropped
	excused.Datasets = []ShardPart{dropped.Datasets[0]}
	excused.Datasets[0].Findings = append(slices.Clone(dropped.Datasets[0].Findings), Finding{Rule: "text/rare-token", Severity: scan.Info, File: "metadata.csv", Line: line, Message: "m"})
	var ex bytes.Buffer
	excused.WriteJSON(&ex)
	long := strings.Replace(good, fmt.Sprintf(`"seconds":%v`, first.Seconds), `"seconds":1.7e308`, 1)
	if long == good {
		t.Fatalf("no seconds of %q in the report", first.Audio)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"a clip dropped", d.String(), fmt.Sprintf("audio %q of this shard's rows has neither evidence nor a finding", first.Audio)},
		{"a clip dropped beside another finding", ex.String(), fmt.Sprintf("audio %q of this shard's rows has neither evidence nor a finding", first.Audio)},
		{"a day-long clip and more", long, "seconds 1.7e+308"},
		{"an escape in a message", strings.Replace(good, `"findings":null`, `"findings":[{"rule":"audio/clipping","severity":"low","message":"x\u001b]0;pwn\u0007\rttsguard: forged"}]`, 1), "control or invisible characters"},
		{"an escape in the root", strings.Replace(good, `"root":"`, `"root":"\u001b[2K`, 1), "control or invisible characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadShardReport(strings.NewReader(tc.json), "s.json", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadShardReport: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestShardMAC: with a key shared by the shard workers and the merge, a
// report carries the HMAC of its bytes; a report changed after its shard
// wrote it, one without a MAC, one made with another key, or an
// authenticated one read without the key, is refused; the authenticated
// reports merge to the unsharded report.
func TestShardMAC(t *testing.T) {
	root, err := dstest.LJSpeech("lj", dstest.Base("LJ001-", 12)).Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: "ljspeech"}}
	key := bytes.Repeat([]byte("k"), MinShardKey)
	var raws [][]byte
	for i := range 2 {
		sr, err := AuditShard(context.Background(), parts, Options{}, Shard{i, 2}, "test")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := sr.WriteMAC(&b, key); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b.Bytes())
	}
	if err := (&ShardReport{}).WriteMAC(io.Discard, key[:MinShardKey-1]); err == nil {
		t.Error("a short key was taken")
	}
	var srs []*ShardReport
	for i, raw := range raws {
		sr, err := ReadShardReport(bytes.NewReader(raw), fmt.Sprintf("s%d.json", i), key)
		if err != nil {
			t.Fatal(err)
		}
		srs = append(srs, sr)
	}
	got, err := Merge(srs, []string{"s0.json", "s1.json"}, Options{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Audit(context.Background(), os.DirFS(root), root, Options{Formatter: "ljspeech"})
	if err != nil {
		t.Fatal(err)
	}
	want.RootDigest, want.RootDigestError, got.Shards, got.RootDigestError = "", "", 0, ""
	sameReport(t, "authenticated shards", got, want)

	var plain bytes.Buffer
	srs[0].MAC = ""
	srs[0].WriteJSON(&plain)
	changed := bytes.Replace(raws[0], []byte(`"tool":"test"`), []byte(`"tool":"tesT"`), 1)
	other := bytes.Repeat([]byte("o"), MinShardKey)
	for _, tc := range []struct {
		name string
		raw  []byte
		key  []byte
		want string
	}{
		{"changed", changed, key, "its MAC does not verify"},
		{"another key", raws[0], other, "its MAC does not verify"},
		{"no MAC", plain.Bytes(), key, "not authenticated"},
		{"no key", raws[0], nil, "give merge the --shard-key"},
		{"mac elsewhere", bytes.Replace(plain.Bytes(), []byte(`{"format"`), []byte(`{"mac":"hmac-sha256:00","format"`), 1), nil, "not the report's last"},
	} {
		_, err := ReadShardReport(bytes.NewReader(tc.raw), "s.json", tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if tc.key != nil && !errors.Is(err, ErrUnauthentic) {
			t.Errorf("%s: %v is not ErrUnauthentic", tc.name, err)
		}
	}
}
