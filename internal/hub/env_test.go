package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("home/.cache/huggingface/token", "hf_fromhome\n")
	write("xdg/huggingface/token", "hf_fromxdg")
	write("hfhome/token", " hf_fromhfhome\r\n")
	custom := write("custom/tok", "hf_custom")
	write("empty/token", "\n\n")
	write("bad/token", "hf_a b")
	if err := os.MkdirAll(filepath.Join(dir, "dirtoken", "token"), 0o700); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	tests := []struct {
		name     string
		env      map[string]string
		endpoint string
		token    string // the value expected ("" none)
		source   string
		err      string
	}{
		{"defaults: the home token file", map[string]string{"HOME": home}, DefaultEndpoint, "hf_fromhome", filepath.Join(home, ".cache/huggingface/token"), ""},
		{"HF_TOKEN first", map[string]string{"HOME": home, "HF_TOKEN": " hf_env\n", "HUGGING_FACE_HUB_TOKEN": "hf_old"}, DefaultEndpoint, "hf_env", "HF_TOKEN", ""},
		{"legacy variable", map[string]string{"HOME": home, "HUGGING_FACE_HUB_TOKEN": "hf_old"}, DefaultEndpoint, "hf_old", "HUGGING_FACE_HUB_TOKEN", ""},
		{"empty HF_TOKEN falls through", map[string]string{"HOME": home, "HF_TOKEN": "\n"}, DefaultEndpoint, "hf_fromhome", filepath.Join(home, ".cache/huggingface/token"), ""},
		{"XDG_CACHE_HOME", map[string]string{"HOME": home, "XDG_CACHE_HOME": filepath.Join(dir, "xdg")}, DefaultEndpoint, "hf_fromxdg", filepath.Join(dir, "xdg/huggingface/token"), ""},
		{"HF_HOME over XDG", map[string]string{"HOME": home, "XDG_CACHE_HOME": filepath.Join(dir, "xdg"), "HF_HOME": filepath.Join(dir, "hfhome")}, DefaultEndpoint, "hf_fromhfhome", filepath.Join(dir, "hfhome/token"), ""},
		{"HF_TOKEN_PATH with ~ and $VAR", map[string]string{"HOME": dir, "SUB": "custom", "HF_TOKEN_PATH": "~/${SUB}/tok"}, DefaultEndpoint, "hf_custom", custom, ""},
		{"missing token file is no token", map[string]string{"HOME": filepath.Join(dir, "nowhere")}, DefaultEndpoint, "", "", ""},
		{"empty token file is no token", map[string]string{"HOME": home, "HF_HOME": filepath.Join(dir, "empty")}, DefaultEndpoint, "", "", ""},
		{"implicit token disabled", map[string]string{"HOME": home, "HF_TOKEN": "hf_env", "HF_HUB_DISABLE_IMPLICIT_TOKEN": "yes"}, DefaultEndpoint, "", "", ""},
		{"HF_ENDPOINT trailing slashes", map[string]string{"HOME": home, "HF_ENDPOINT": "https://hf-mirror.example/hub//"}, "https://hf-mirror.example/hub", "hf_fromhome", filepath.Join(home, ".cache/huggingface/token"), ""},
		{"HF_ENDPOINT empty", map[string]string{"HF_ENDPOINT": ""}, "", "", "", `HF_ENDPOINT ""`},
		{"HF_ENDPOINT relative", map[string]string{"HF_ENDPOINT": "huggingface.co"}, "", "", "", "want an absolute https URL"},
		{"HF_ENDPOINT with userinfo", map[string]string{"HF_ENDPOINT": "https://u:p@h.example"}, "", "", "", "userinfo"},
		{"HF_ENDPOINT with query", map[string]string{"HF_ENDPOINT": "https://h.example/?x=1"}, "", "", "", "a query"},
		{"token with a space", map[string]string{"HOME": home, "HF_HOME": filepath.Join(dir, "bad")}, "", "", "", "holds a character other than printable ASCII"},
		{"token in HF_TOKEN with a control character", map[string]string{"HF_TOKEN": "hf_\x01"}, "", "", "", "token from HF_TOKEN"},
		{"token path is a folder", map[string]string{"HOME": home, "HF_HOME": filepath.Join(dir, "dirtoken")}, "", "", "", "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := FromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "hf_") {
					t.Fatalf("the error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Endpoint != tt.endpoint || e.Token.value != tt.token || e.Token.Source() != tt.source {
				t.Fatalf("got %q, token %q from %q; want %q, %q from %q", e.Endpoint, e.Token.value, e.Token.Source(), tt.endpoint, tt.token, tt.source)
			}
		})
	}
}

func TestTokenIsNeverShown(t *testing.T) {
	tok, err := NewToken("hf_secretvalue", "HF_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("pull", "token", tok)
	js, _ := json.Marshal(struct{ T Token }{tok})
	env := Env{Endpoint: DefaultEndpoint, Token: tok}
	for _, s := range []string{
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q %x", tok, tok, tok, tok, tok, tok),
		fmt.Sprintf("%v %+v %#v", env, env, &env), logs.String(), string(js),
	} {
		if strings.Contains(s, "secretvalue") {
			t.Errorf("the token shows in %q", s)
		}
		if !strings.Contains(s, "token from HF_TOKEN") {
			t.Errorf("%q does not say where the token came from", s)
		}
	}
	if _, err := NewToken("", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty token: %v", err)
	}
}
