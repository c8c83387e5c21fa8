package hub

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRepoID(t *testing.T) {
	tests := []struct {
		id, err string
	}{
		{"tts-hub/XTTS-v2", ""},
		{"jbetker/tortoise-tts-v2", ""},
		{"myshell-ai/OpenVoiceV2", ""},
		{"Kamtera/persian-tts-female-vits", ""},
		{"a_b/c.d_e", ""},
		{"gpt2", "want OWNER/NAME"},
		{"a/b/c", "want OWNER/NAME"},
		{"/b", `"" must have 1 to 96`},
		{"a/", `"" must have 1 to 96`},
		{"a/" + strings.Repeat("x", 97), "must have 1 to 96"},
		{"a/b c", "may hold only ASCII"},
		{"a/é", "may hold only ASCII"},
		{"a/-b", "must start and end"},
		{"a/b.", "must start and end"},
		{"a/b--c", `may not hold "--"`},
		{"a/b..c", `may not hold "--" or ".."`},
		{"a/b.git", "may not end in .git"},
		{"../x", "must start and end"},
	}
	for _, tt := range tests {
		err := ParseRepoID(tt.id)
		if tt.err == "" {
			if err != nil {
				t.Errorf("ParseRepoID(%q): %v", tt.id, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseRepoID(%q) = %v, want an ErrInvalid containing %q", tt.id, err, tt.err)
		}
	}
}

func TestValidRevision(t *testing.T) {
	tests := []struct {
		rev string
		ok  bool
	}{
		{"main", true},
		{"v2.0.3", true},
		{"refs/pr/1", true},
		{"0123456789abcdef0123456789abcdef01234567", true},
		{"", false},
		{strings.Repeat("a", 256), false},
		{"-x", false},
		{".x", false},
		{"/x", false},
		{"x/", false},
		{"x.", false},
		{"x.lock", false},
		{"a..b", false},
		{"a//b", false},
		{"a/.b", false},
		{"a b", false},
		{"a~1", false},
		{"a:b", false},
		{"a@{1}", false},
	}
	for _, tt := range tests {
		if err := ValidRevision(tt.rev); (err == nil) != tt.ok {
			t.Errorf("ValidRevision(%q) = %v, want ok=%v", tt.rev, err, tt.ok)
		}
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		src  string
		want Source
		err  string
	}{
		{"hf://tts-hub/XTTS-v2", Source{"tts-hub/XTTS-v2", "main"}, ""},
		{"hf://tts-hub/XTTS-v2@v2.0.3", Source{"tts-hub/XTTS-v2", "v2.0.3"}, ""},
		{"hf://o/r@refs/pr/7", Source{"o/r", "refs/pr/7"}, ""},
		{"hf://o/r@0123456789abcdef0123456789abcdef01234567", Source{"o/r", "0123456789abcdef0123456789abcdef01234567"}, ""},
		{"https://huggingface.co/o/r", Source{}, "want hf://OWNER/REPO"},
		{"hf://r", Source{}, "want OWNER/NAME"},
		{"hf://o/r@", Source{}, `revision ""`},
		{"hf://o/r@a..b", Source{}, `revision "a..b"`},
		{"hf://datasets/o/r", Source{}, "only model repositories"},
		{"hf://spaces/o", Source{}, "only model repositories"},
		{"hf://o/r/file.pth", Source{}, "want OWNER/NAME"},
		{"hf://o/r@main@x", Source{}, `revision "main@x"`},
		{"hf://o/r\xff", Source{}, "not UTF-8"},
	}
	for _, tt := range tests {
		got, err := ParseSource(tt.src)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseSource(%q) = %+v, %v; want %+v", tt.src, got, err, tt.want)
			}
			if again, err := ParseSource(got.String()); err != nil || again != got {
				t.Errorf("ParseSource(%q) does not round-trip: %+v, %v", got.String(), again, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseSource(%q) = %v, want an ErrInvalid containing %q", tt.src, err, tt.err)
		}
	}
}
