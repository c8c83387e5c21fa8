package dataset

import (
	"slices"
	"strings"
	"testing"
)

func lines(t *testing.T, in string) []PyLine {
	t.Helper()
	var out []PyLine
	if err := pyLines(strings.NewReader(in), func(l PyLine) error { out = append(out, l); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPyLines: the split points and terminators of Python's text-mode file
// iteration (checked against CPython 3.11: list(io.TextIOWrapper(...))).
func TestPyLines(t *testing.T) {
	tests := []struct {
		in    string
		texts []string
		terms []string
		lone  []bool
	}{
		{"a\rb\r\nc\nd", []string{"a", "b", "c", "d"}, []string{"\r", "\r\n", "\n", ""}, []bool{true, true, false, false}},
		{"x\u2028y\u0085z\fw\n", []string{"x\u2028y\u0085z\fw"}, []string{"\n"}, []bool{false}},
		{"\r\r\n\n", []string{"", "", ""}, []string{"\r", "\r\n", "\n"}, []bool{true, true, false}},
		{"", nil, nil, nil},
		{"only\r", []string{"only"}, []string{"\r"}, []bool{false}},
		{"\ufeffLJ|a|b\n", []string{"\ufeffLJ|a|b"}, []string{"\n"}, []bool{false}},
	}
	for _, tc := range tests {
		got := lines(t, tc.in)
		var texts, terms []string
		var lone []bool
		for i, l := range got {
			if l.No != i+1 {
				t.Errorf("%q: line %d numbered %d", tc.in, i+1, l.No)
			}
			texts, terms, lone = append(texts, l.Text), append(terms, l.Term), append(lone, l.LoneCR)
		}
		if !slices.Equal(texts, tc.texts) || !slices.Equal(terms, tc.terms) || !slices.Equal(lone, tc.lone) {
			t.Errorf("%q: texts %q terms %q lone %v, want %q %q %v", tc.in, texts, terms, lone, tc.texts, tc.terms, tc.lone)
		}
	}
}

func TestPyLinesBadUTF8AndOffsets(t *testing.T) {
	got := lines(t, "ok\nb\xffad\n\xed\xa0\x80\n")
	want := []struct {
		off int64
		bad int
	}{{0, -1}, {3, 1}, {8, 0}} // a UTF-8 encoded surrogate is rejected, as by Python
	if len(got) != len(want) {
		t.Fatalf("%d lines", len(got))
	}
	for i, w := range want {
		if got[i].Offset != w.off || got[i].BadUTF8 != w.bad {
			t.Errorf("line %d: offset %d bad %d, want %d %d", i+1, got[i].Offset, got[i].BadUTF8, w.off, w.bad)
		}
	}
}

func TestPyLinesTooLong(t *testing.T) {
	in := strings.Repeat("x", MaxLineBytes+10) + "\nnext\n"
	got := lines(t, in)
	if len(got) != 2 || !got[0].TooLong || len(got[0].Text) != MaxLineBytes || got[1].Text != "next" || got[1].TooLong {
		t.Fatalf("got %d lines, first too long %v (%d bytes)", len(got), got[0].TooLong, len(got[0].Text))
	}
	if got[1].Offset != int64(MaxLineBytes+11) {
		t.Errorf("offset of the next line %d", got[1].Offset)
	}
}

// TestPyCSV: csv.reader(f, delimiter="|") on a file opened with newline="",
// as CPython 3.11 returns it.
func TestPyCSV(t *testing.T) {
	tests := []struct {
		in   string
		want [][]string
		err  bool
	}{
		{"a|b\n", [][]string{{"a", "b"}}, false},
		{"a|\"b|c\"\n", [][]string{{"a", "b|c"}}, false},
		{"a|\"b\nc\"|d\n", [][]string{{"a", "b\nc", "d"}}, false},
		{"a|x\"y\"\n", [][]string{{"a", "x\"y\""}}, false},
		{"a|\"b\"c\n", [][]string{{"a", "bc"}}, false},
		{"\n", [][]string{{}}, false},
		{"a|\"unterminated\n", [][]string{{"a", "unterminated\n"}}, false},
		{"a||\r\n", [][]string{{"a", "", ""}}, false},
		{"a|b\rc|d\n", [][]string{{"a", "b"}, {"c", "d"}}, false},
		{"\"a\"\"b\"|c\n", [][]string{{"a\"b", "c"}}, false},
		{"a|\"b\"\n\nc|d", [][]string{{"a", "b"}, {}, {"c", "d"}}, false},
		{"a|b\x00c\n", [][]string{{"a", "b\x00c"}}, false},
		{strings.Repeat("x", CSVFieldLimit+1) + "\n", nil, true},
	}
	for _, tc := range tests {
		var got [][]string
		p := pyCSV{delim: '|'}
		var err error
		last := 0
		for _, l := range lines(t, tc.in) {
			last = l.No
			var rec *CSVRecord
			if rec, err = p.Line(l); err != nil {
				break
			}
			if rec != nil {
				got = append(got, rec.Fields)
			}
		}
		if rec := p.End(last); err == nil && rec != nil {
			got = append(got, rec.Fields)
		}
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.err && !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestResolveClip(t *testing.T) {
	tests := []struct {
		parts  []string
		rel    string
		abs    bool
		dotdot bool
		nul    bool
	}{
		{[]string{"wavs", "LJ001.wav"}, "wavs/LJ001.wav", false, false, false},
		{[]string{"wavs", "/etc/passwd.wav"}, "", true, false, false},
		{[]string{"wavs", "../../x.wav"}, "", false, true, false},
		{[]string{"wavs", "../wavs/a.wav"}, "wavs/a.wav", false, true, false},
		{[]string{"wavs/", "a.wav"}, "wavs/a.wav", false, false, false},
		{[]string{"clips", "a\x00.mp3"}, "", false, false, true},
		{[]string{"wavs", "..", ".wav"}, ".wav", false, true, false},
	}
	for _, tc := range tests {
		c := resolveClip(tc.parts...)
		if c.Rel != tc.rel || c.Absolute != tc.abs || c.DotDot != tc.dotdot || c.NUL != tc.nul {
			t.Errorf("%q: %+v", tc.parts, c)
		}
	}
}

func TestPyStrip(t *testing.T) {
	// " \x1c\x1fa\u200b\xa0\u180e ".strip() in CPython 3.11
	if got := pyStrip(" \x1c\x1fa\u200b\xa0\u180e "); got != "a\u200b\xa0\u180e" {
		t.Errorf("%q", got)
	}
	if got := pyStrip("\u2028\u3000x\u0085"); got != "x" {
		t.Errorf("%q", got)
	}
}
