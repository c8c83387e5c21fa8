//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bytes"
	"testing"
)

// TestEscaper: what a terminal would act on is escaped, across writes too;
// text, including UTF-8 cut between writes, passes.
func TestEscaper(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{[]string{"plain text\n\ttab\r"}, "plain text\n\ttab\r"},
		{[]string{"\x1b]0;title\x07"}, "^[]0;title^G"},
		{[]string{"del\x7f nul\x00"}, "del^? nul^@"},
		{[]string{"\xc2\x9b6n"}, "\\u009b6n"},
		{[]string{"\xc2", "\x9d0;t\xc2\x9c"}, "\\u009d0;t\\u009c"},
		{[]string{"\x9b31m"}, "\\x9b31m"},
		{[]string{"a\xffb"}, "a\\xffb"},
		{[]string{"caf\xc3", "\xa9 \xe2\x82", "\xac \xf0\x9f\x8e\xa4"}, "café € 🎤"},
		{[]string{"rtl \u202eevil\u202c \u2066x\u2069"}, "rtl \\u202eevil\\u202c \\u2066x\\u2069"},
		{[]string{"cut \xe2\x82"}, "cut \\xe2\\x82"}, // held, escaped by Close
	}
	for _, tt := range tests {
		var b bytes.Buffer
		e := &escaper{w: &b}
		for _, w := range tt.writes {
			if n, err := e.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%q: write %d %v", tt.writes, n, err)
			}
		}
		e.Close()
		if b.String() != tt.want {
			t.Errorf("%q: got %q, want %q", tt.writes, b.String(), tt.want)
		}
	}
}
