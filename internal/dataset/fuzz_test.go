package dataset

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

// FuzzPyLines: the lines give back the input byte for byte (valid UTF-8),
// their offsets are where they start, and every split is one Python makes.
func FuzzPyLines(f *testing.F) {
	for _, s := range []string{"a\rb\r\nc\nd", "x\u2028y\n", "\r\r\n\n", "a|b|c\n\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var joined strings.Builder
		err := pyLines(bytes.NewReader(data), func(l PyLine) error {
			if int(l.Offset) != joined.Len() && utf8.Valid(data) {
				t.Fatalf("line %d at offset %d, want %d", l.No, l.Offset, joined.Len())
			}
			if strings.ContainsAny(l.Text, "\r\n") {
				t.Fatalf("line %d holds a line break: %q", l.No, l.Text)
			}
			joined.WriteString(l.Raw())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if utf8.Valid(data) && joined.String() != string(data) {
			t.Fatalf("lines join to %q, input %q", joined.String(), data)
		}
	})
}

// FuzzPyCSV: without quote characters the csv module splits each line on
// the delimiter, exactly; with them it never fails on short input.
func FuzzPyCSV(f *testing.F) {
	for _, s := range []string{"a|b\n", "a|\"b\nc\"|d\n", "\"a\"\"b\"|c", "a|b\rc|d\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := pyCSV{delim: '|'}
		quoted := bytes.ContainsRune(data, '"')
		last := 0
		err := pyLines(bytes.NewReader(data), func(l PyLine) error {
			last = l.No
			rec, err := p.Line(l)
			if err != nil {
				return err
			}
			if quoted || rec == nil {
				return nil
			}
			want := strings.Split(l.Text, "|")
			if l.Text == "" {
				want = []string{}
			}
			if rec.First != l.No || !slices.Equal(rec.Fields, want) {
				t.Fatalf("line %q: fields %q, want %q", l.Text, rec.Fields, want)
			}
			return nil
		})
		if err != nil && len(data) < CSVFieldLimit {
			t.Fatalf("csv error on %d bytes: %v", len(data), err)
		}
		p.End(last)
	})
}

// FuzzAudit: any metadata bytes, under every line-based formatter, give a
// report (findings, never a panic or an error); rows point at real lines.
func FuzzAudit(f *testing.F) {
	for _, s := range []string{"LJ1|a|b\n", "audio_file|text\nwavs/a.wav|hi\n", "client_id\tpath\tsentence\nc\ta.wav\thi\n", "../x|\x1b[2J|\u202e\r\n"} {
		f.Add([]byte(s))
	}
	wav := []byte("RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"metadata.csv": {Data: data}, "validated.tsv": {Data: data}, "wavs/a.wav": {Data: wav}, "wavs/LJ1.wav": {Data: wav}}
		nl := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1
		for _, fm := range []string{"ljspeech", "coqui", "common_voice"} {
			rep, err := Audit(context.Background(), fsys, "fuzz", Options{Formatter: fm})
			if err != nil {
				t.Fatalf("%s: %v", fm, err)
			}
			for _, fd := range rep.Findings {
				if fd.Line > nl {
					t.Fatalf("%s: finding on line %d of %d", fm, fd.Line, nl)
				}
			}
		}
	})
}
