package dataset

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Row is one sample as a coqui formatter yields it.
type Row struct {
	MetaFile string     `json:"meta_file"`
	Line     int        `json:"line"` // first Python line of the row
	ID       string     `json:"id"`   // the clip id or audio column as written
	Text     string     `json:"text"` // the transcript coqui trains on (line terminator removed)
	Speaker  string     `json:"speaker"`
	Clip     clipPath   `json:"-"`
	Fields   []NamedStr `json:"-"` // every field, for the character rules
	// Optional: coqui skips the row silently when its audio is missing
	// (coqui, mailabs, vctk) instead of failing (ljspeech, libri_tts).
	Optional bool      `json:"-"`
	notes    []Finding // what the column rules saw, located when the row is
}

// NamedStr is one metadata field.
type NamedStr struct{ Name, Value string }

// Formatters are the coqui formatter names Load understands.
var Formatters = []string{"ljspeech", "coqui", "vctk", "vctk_old", "libri_tts", "common_voice", "mailabs"}

// DefaultMetaFile is the metadata file a formatter reads when none is given
// ("" means the formatter discovers its files, as coqui's does with glob).
func DefaultMetaFile(formatter string) string {
	switch formatter {
	case "ljspeech", "coqui":
		return "metadata.csv"
	case "common_voice":
		return "validated.tsv"
	}
	return ""
}

// loader reads one dataset and collects rows and findings.
type loader struct {
	ctx  context.Context
	fsys fs.FS
	rep  *Report
	rows []Row
}

func (ld *loader) find(f Finding) { ld.rep.add(f) }

// Load reads the dataset in fsys as coqui's formatter named formatter would
// with meta_file metaFile ("" for the formatter's default or discovery).
func Load(ctx context.Context, fsys fs.FS, formatter, metaFile string, rep *Report) ([]Row, error) {
	ld := &loader{ctx: ctx, fsys: fsys, rep: rep}
	if metaFile == "" {
		metaFile = DefaultMetaFile(formatter)
	}
	var err error
	switch formatter {
	case "ljspeech":
		err = ld.lineFormat(metaFile, "|", ljspeechRow)
	case "common_voice":
		err = ld.lineFormat(metaFile, "\t", commonVoiceRow)
	case "libri_tts":
		err = ld.each(metaFile, func(name string) bool { return strings.HasSuffix(name, "trans.tsv") }, func(mf string) error {
			return ld.lineFormat(mf, "\t", libriTTSRow)
		})
	case "mailabs":
		err = ld.each(metaFile, func(name string) bool { return name == "metadata.csv" }, ld.mailabs)
	case "coqui":
		err = ld.coqui(metaFile)
	case "vctk", "vctk_old":
		err = ld.vctk(formatter == "vctk")
	default:
		return nil, fmt.Errorf("unknown formatter %q (known: %s)", formatter, strings.Join(Formatters, ", "))
	}
	return ld.rows, err
}

// each runs fn on metaFile, or on every file under the root that match
// accepts, found as Python's glob("ROOT/**/PATTERN", recursive=True) does:
// hidden names skipped; links to folders are reported (glob follows them).
func (ld *loader) each(metaFile string, match func(string) bool, fn func(string) error) error {
	if metaFile != "" {
		return fn(metaFile)
	}
	files, err := ld.glob(".", match)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		ld.find(Finding{Rule: "meta/no-metadata", Severity: scan.Medium, Message: "no metadata file found: coqui loads no samples from this dataset"})
	}
	for _, f := range files {
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (ld *loader) glob(dir string, match func(string) bool) ([]string, error) {
	var out []string
	err := fs.WalkDir(ld.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if fi, err := fs.Stat(ld.fsys, p); err == nil && fi.IsDir() {
				ld.find(Finding{Rule: "meta/symlink", Severity: scan.High, File: p,
					Message: "a link to a folder: coqui's glob follows it and reads metadata from wherever it points"})
			}
		}
		if d.Type().IsRegular() && match(d.Name()) {
			out = append(out, p)
		}
		return ld.ctx.Err()
	})
	slices.Sort(out)
	return out, err
}

// rowFunc turns the columns of one line (the translated "\n" still on the
// last column) into a row, or returns a finding for a line coqui fails on.
type rowFunc func(metaFile string, cols []string) (Row, *Finding)

// lineFormat reads a file the way `for line in open(f, encoding="utf-8")`
// followed by line.split(sep) does.
func (ld *loader) lineFormat(metaFile, sep string, fn rowFunc) error {
	return ld.readLines(metaFile, func(l PyLine) error {
		line := l.Text
		if l.Term != "" {
			line += "\n"
		}
		cols := strings.Split(line, sep)
		row, bad := fn(metaFile, cols)
		if bad != nil {
			bad.File, bad.Line = metaFile, l.No
			ld.find(*bad)
			return nil
		}
		row.MetaFile, row.Line = metaFile, l.No
		for _, f := range row.notes {
			f.File, f.Line, f.Clip = metaFile, l.No, row.ID
			ld.find(f)
		}
		ld.rows = append(ld.rows, row)
		return nil
	})
}

// readLines opens a metadata file and reports what every line-level rule
// sees (encoding, length, line breaks other readers disagree on).
func (ld *loader) readLines(metaFile string, fn func(PyLine) error) error {
	f, err := ld.openMeta(metaFile)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	return pyLines(f, func(l PyLine) error {
		if err := ld.ctx.Err(); err != nil {
			return err
		}
		ld.lineRules(metaFile, l)
		return fn(l)
	})
}

// openMeta opens a metadata file inside the root; a missing or linked one is
// a finding, not an error.
func (ld *loader) openMeta(metaFile string) (fs.File, error) {
	c := resolveClip(metaFile)
	if c.Rel == "" {
		ld.find(Finding{Rule: "meta/path-escape", Severity: scan.High, File: metaFile, Message: fmt.Sprintf("metadata path %q is outside the dataset root", metaFile)})
		return nil, nil
	}
	if _, err := lstatClip(ld.fsys, c.Rel); err != nil {
		rule, sev := "meta/unreadable", scan.Medium
		if strings.Contains(err.Error(), errLink.Error()) {
			rule, sev = "meta/symlink", scan.High
		}
		ld.find(Finding{Rule: rule, Severity: sev, File: metaFile, Message: fmt.Sprintf("metadata file: %v", err)})
		return nil, nil
	}
	return ld.fsys.Open(c.Rel)
}

// textCol is column i with the translated line terminator removed when it
// is the last column.
func textCol(cols []string, i int) string {
	if i == len(cols)-1 {
		return strings.TrimSuffix(cols[i], "\n")
	}
	return cols[i]
}

func named(cols []string, names ...string) []NamedStr {
	out := make([]NamedStr, len(cols))
	for i := range cols {
		n := fmt.Sprintf("column %d", i+1)
		if i < len(names) {
			n = names[i]
		}
		out[i] = NamedStr{n, textCol(cols, i)}
	}
	return out
}

func short(need, got int, why string) *Finding {
	return &Finding{Rule: "meta/short-row", Severity: scan.Medium,
		Message: fmt.Sprintf("%d columns, the formatter needs %d: %s", got, need, why)}
}

// ljspeechRow: cols[0] + ".wav" under wavs/, cols[2] is the text; fewer than
// 3 columns raise IndexError, and the whole load fails.
func ljspeechRow(_ string, cols []string) (Row, *Finding) {
	if len(cols) < 3 {
		return Row{}, short(3, len(cols), "coqui raises IndexError and loads nothing")
	}
	row := Row{ID: cols[0], Text: textCol(cols, 2), Speaker: "ljspeech",
		Clip: resolveClip("wavs", cols[0]+".wav"), Fields: named(cols, "id", "text", "normalized text")}
	if len(cols) > 3 {
		row.notes = append(row.notes, Finding{Rule: "meta/extra-columns", Severity: scan.Medium,
			Message: fmt.Sprintf("%d columns: coqui trains on column 3 and ignores %q, a reader that takes the last column trains on other text", len(cols), textCol(cols, len(cols)-1))})
	}
	return row, nil
}

// commonVoiceRow: lines starting "client_id" are skipped; cols[0] speaker,
// cols[1] file under clips/, cols[2] text.
func commonVoiceRow(_ string, cols []string) (Row, *Finding) {
	if strings.HasPrefix(cols[0], "client_id") {
		return Row{}, &Finding{Rule: "meta/header-row", Severity: scan.Info, Message: "skipped: coqui skips every line that starts with \"client_id\""}
	}
	if len(cols) < 3 {
		return Row{}, short(3, len(cols), "coqui raises IndexError and loads nothing")
	}
	return Row{ID: cols[1], Text: textCol(cols, 2), Speaker: "MCV_" + cols[0],
		Clip: resolveClip("clips", cols[1]), Fields: named(cols, "client_id", "path", "sentence")}, nil
}

// libriTTSRow: cols[0] is SPEAKER_CHAPTER_..., the clip is
// SPEAKER/CHAPTER/cols[0].wav, cols[2] the normalized text.
func libriTTSRow(_ string, cols []string) (Row, *Finding) {
	parts := strings.Split(cols[0], "_")
	if len(parts) < 2 {
		return Row{}, &Finding{Rule: "meta/short-row", Severity: scan.Medium,
			Message: fmt.Sprintf("utterance id %q has no speaker_chapter prefix: coqui raises ValueError and loads nothing", cols[0])}
	}
	if len(cols) < 3 {
		return Row{}, short(3, len(cols), "coqui raises IndexError and loads nothing")
	}
	return Row{ID: cols[0], Text: textCol(cols, 2), Speaker: "LTTS_" + parts[0],
		Clip: resolveClip(parts[0]+"/"+parts[1], cols[0]+".wav"), Fields: named(cols, "id", "original text", "normalized text")}, nil
}

// lineRules reports what is wrong with a line before any column rule.
func (ld *loader) lineRules(metaFile string, l PyLine) {
	if l.BadUTF8 >= 0 {
		ld.find(Finding{Rule: "meta/encoding", Severity: scan.High, File: metaFile, Line: l.No,
			Message: fmt.Sprintf("invalid utf-8 at byte %d of the file: Python's decoder raises UnicodeDecodeError and coqui loads nothing", l.Offset+int64(l.BadUTF8))})
	}
	if l.TooLong {
		ld.find(Finding{Rule: "meta/line-too-long", Severity: scan.High, File: metaFile, Line: l.No,
			Message: fmt.Sprintf("line longer than %d bytes; the rest of it was not read", MaxLineBytes)})
	}
	if l.LoneCR {
		ld.find(Finding{Rule: "meta/line-break", Severity: scan.High, File: metaFile, Line: l.No,
			Message: fmt.Sprintf("a lone \\r splits physical line %d: Python reads this as its own row, a reader that splits on \\n only sees one row", l.Physical)})
	}
	for _, r := range l.Text {
		if name, ok := splitlinesOnly[r]; ok {
			ld.find(Finding{Rule: "meta/line-break", Severity: scan.High, File: metaFile, Line: l.No,
				Message: fmt.Sprintf("%s inside the line: coqui's file iteration keeps one row, str.splitlines() and editors see two", name)})
			break
		}
	}
}

// under joins folder parts of a metadata file's own location.
func under(metaFile string, parts ...string) []string {
	return append([]string{path.Dir(metaFile)}, parts...)
}
