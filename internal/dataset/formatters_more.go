package dataset

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// coqui reads the "coqui" format: csv.DictReader(delimiter="|") over the file
// opened with newline="", header row required with audio_file and text.
func (ld *loader) coqui(metaFile string) error {
	var header []string
	var p = pyCSV{delim: '|'}
	var failed bool
	var raw []string // the lines of the pending record, for the naive view
	last := 0
	emit := func(rec *CSVRecord) {
		if header == nil {
			header = rec.Fields
			failed = !ld.coquiHeader(metaFile, rec) // coqui's assertion fails: no rows
			return
		}
		if len(rec.Fields) == 0 || failed {
			return
		}
		ld.coquiRow(metaFile, header, rec, raw)
	}
	err := ld.readLines(metaFile, func(l PyLine) error {
		if failed {
			return errStop
		}
		last = l.No
		raw = append(raw, l.Raw())
		rec, err := p.Line(l)
		if err != nil {
			ld.find(Finding{Rule: "meta/csv-error", Severity: scan.High, File: metaFile, Line: l.No,
				Message: fmt.Sprintf("Python's csv module raises %q: coqui loads nothing", err.Error())})
			failed = true
			return nil
		}
		if rec != nil {
			emit(rec)
			raw = raw[:0]
		}
		return nil
	})
	if rec := p.End(last); rec != nil && !failed {
		emit(rec)
	}
	if err == nil && header == nil && !failed {
		ld.find(Finding{Rule: "meta/short-row", Severity: scan.Medium, File: metaFile, Message: "empty metadata file: coqui raises IndexError and loads nothing"})
	}
	return err
}

// coquiHeader reports what is wrong with the header row, and whether coqui
// accepts it.
func (ld *loader) coquiHeader(metaFile string, rec *CSVRecord) bool {
	ok := true
	for _, need := range []string{"audio_file", "text"} {
		if !slices.Contains(rec.Fields, need) {
			ok = false
			ld.find(Finding{Rule: "meta/header", Severity: scan.Medium, File: metaFile, Line: rec.First,
				Message: fmt.Sprintf("header %q has no %s column: coqui's assertion fails and it loads nothing", rec.Fields, need)})
		}
	}
	seen := map[string]int{}
	for i, name := range rec.Fields {
		if j, ok := seen[name]; ok {
			ld.find(Finding{Rule: "meta/duplicate-column", Severity: scan.High, File: metaFile, Line: rec.First, Field: name,
				Message: fmt.Sprintf("column %q is both column %d and %d: coqui (a dict) takes column %d, a reader that takes the first takes %d", name, j+1, i+1, i+1, j+1)})
		}
		seen[name] = i
	}
	return ok
}

func (ld *loader) coquiRow(metaFile string, header []string, rec *CSVRecord, raw []string) {
	get := func(name string) (string, bool) {
		i := -1
		for j, h := range header { // the last column of a name wins, as in dict(zip(...))
			if h == name {
				i = j
			}
		}
		if i < 0 || i >= len(rec.Fields) {
			return "", false
		}
		return rec.Fields[i], true
	}
	loc := Finding{File: metaFile, Line: rec.First}
	if rec.Last != rec.First {
		f := loc
		f.Rule, f.Severity = "meta/line-break", scan.High
		f.Message = fmt.Sprintf("a quoted field spans lines %d-%d: coqui's csv reader makes one row of them, its own column check and line-based readers see %d", rec.First, rec.Last, rec.Last-rec.First+1)
		ld.find(f)
	} else if naive := strings.Split(strings.TrimRight(raw[0], "\r\n"), "|"); !slices.Equal(naive, rec.Fields) {
		f := loc
		f.Rule, f.Severity = "meta/split-differs", scan.Medium
		f.Message = fmt.Sprintf("csv quoting gives fields %q, a plain split on \"|\" gives %q", rec.Fields, naive)
		ld.find(f)
	}
	if len(rec.Fields) > len(header) {
		f := loc
		f.Rule, f.Severity = "meta/extra-columns", scan.Medium
		f.Message = fmt.Sprintf("%d fields under a %d-column header: coqui ignores %q", len(rec.Fields), len(header), rec.Fields[len(header):])
		ld.find(f)
	}
	audio, okA := get("audio_file")
	text, okT := get("text")
	if !okA || !okT {
		f := loc
		f.Rule, f.Severity = "meta/short-row", scan.Medium
		f.Message = fmt.Sprintf("%d fields under a %d-column header: audio_file or text is None, coqui fails on this row", len(rec.Fields), len(header))
		ld.find(f)
		return
	}
	speaker := "coqui"
	if slices.Contains(header, "speaker_name") {
		speaker, _ = get("speaker_name")
	}
	ld.rows = append(ld.rows, Row{MetaFile: metaFile, Line: rec.First, ID: audio, Text: text, Speaker: speaker,
		Clip: resolveClip(audio), Fields: named(rec.Fields, header...), Optional: true})
}

// mailabsSpeaker is coqui's speaker_regex on a POSIX system.
var mailabsSpeaker = regexp.MustCompile(`by_book/(male|female)/([^/]+)/`)

// mailabs reads one discovered metadata.csv: cols[0] + ".wav" under the
// file's own wavs/ folder, cols[1].strip() the text; clips whose audio is
// missing are skipped; files outside by_book/(male|female)/SPEAKER/ ignored.
func (ld *loader) mailabs(metaFile string) error {
	m := mailabsSpeaker.FindStringSubmatch("ROOT/" + metaFile)
	if m == nil {
		ld.find(Finding{Rule: "meta/skipped-file", Severity: scan.Info, File: metaFile,
			Message: "outside by_book/(male|female)/SPEAKER/: coqui's mailabs formatter ignores this file"})
		return nil
	}
	return ld.lineFormat(metaFile, "|", func(mf string, cols []string) (Row, *Finding) {
		if len(cols) < 2 {
			return Row{}, short(2, len(cols), "when its audio exists coqui raises IndexError and loads nothing")
		}
		return Row{ID: cols[0], Text: pyStrip(cols[1]), Speaker: m[2], Optional: true,
			Clip: resolveClip(under(mf, "wavs", cols[0]+".wav")...), Fields: named(cols, "id", "text")}, nil
	})
}

// vctk reads txt/SPEAKER/ID.txt files: the first line is the text; the
// clip is wav48_silence_trimmed/SPEAKER/ID_mic1.flac (skipped when missing)
// or, for vctk_old, wav48/SPEAKER/ID.wav.
func (ld *loader) vctk(v092 bool) error {
	files, err := ld.glob("txt", func(name string) bool { return strings.HasSuffix(name, ".txt") })
	if err != nil {
		if _, serr := lstat(ld.fsys, "txt"); serr != nil {
			ld.find(Finding{Rule: "meta/no-metadata", Severity: scan.Medium, File: "txt", Message: "no txt/ folder: coqui loads no samples"})
			return nil
		}
		return err
	}
	for _, mf := range files {
		parts := strings.Split(mf, "/")
		if len(parts) != 3 {
			ld.find(Finding{Rule: "meta/layout", Severity: scan.Medium, File: mf,
				Message: fmt.Sprintf("%d path components, want txt/SPEAKER/FILE.txt: coqui raises ValueError and loads nothing", len(parts))})
			continue
		}
		speaker, id := parts[1], strings.Split(parts[2], ".")[0]
		var first *PyLine
		n := 0
		if err := ld.readLines(mf, func(l PyLine) error {
			n++
			if first == nil {
				first = &l
			}
			return nil
		}); err != nil {
			return err
		}
		if first == nil {
			ld.find(Finding{Rule: "meta/short-row", Severity: scan.Medium, File: mf, Message: "empty transcript file: coqui raises IndexError and loads nothing"})
			continue
		}
		if n > 1 {
			ld.find(Finding{Rule: "meta/extra-lines", Severity: scan.Medium, File: mf, Line: 2, Clip: id,
				Message: fmt.Sprintf("%d lines: coqui trains on line 1 only, other readers may take the rest", n)})
		}
		row := Row{MetaFile: mf, Line: 1, ID: id, Text: first.Text, Speaker: "VCTK_" + speaker,
			Fields: []NamedStr{{"text", first.Text}}}
		if v092 {
			row.Clip, row.Optional = resolveClip("wav48_silence_trimmed", speaker, id+"_mic1.flac"), true
		} else {
			row.Clip, row.Speaker = resolveClip("wav48", speaker, id+".wav"), "VCTK_old_"+speaker
		}
		ld.rows = append(ld.rows, row)
	}
	return nil
}
