package hub

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DefaultEndpoint is the Hub when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// maxTokenFile caps the bytes read from a token file.
const maxTokenFile = 64 << 10

// maxToken caps a token's length.
const maxToken = 4096

// Token is a Hub access token. Its value leaves it only as the
// Authorization header of a request to the endpoint's origin: formatting it
// (any verb), logging it with slog, or marshalling it as JSON shows only
// where it came from.
type Token struct {
	value  string
	source string // "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN" or the token file's path
}

// NewToken returns a token read from source (for messages). The value must
// be 1 to 4096 printable ASCII characters without spaces.
func NewToken(value, source string) (Token, error) {
	if value == "" || len(value) > maxToken {
		return Token{}, fmt.Errorf("%w: token from %s: must have 1 to %d characters", ErrInvalid, source, maxToken)
	}
	for i := 0; i < len(value); i++ {
		if value[i] <= ' ' || value[i] > '~' {
			return Token{}, fmt.Errorf("%w: token from %s: holds a character other than printable ASCII", ErrInvalid, source)
		}
	}
	return Token{value: value, source: source}, nil
}

// IsSet reports whether the token holds a value.
func (t Token) IsSet() bool { return t.value != "" }

// Source says where the token came from ("" when unset).
func (t Token) Source() string { return t.source }

// String describes the token without its value.
func (t Token) String() string {
	if !t.IsSet() {
		return "no token"
	}
	return "token from " + t.source
}

// Format writes String for every verb, so %v, %+v, %#v and %s never show the value.
func (t Token) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// LogValue keeps the value out of slog records.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalJSON keeps the value out of JSON.
func (t Token) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", t.String())), nil }

// Env is the Hub configuration taken from the environment, as huggingface_hub
// takes it.
type Env struct {
	Endpoint string // HF_ENDPOINT without trailing "/", or DefaultEndpoint
	Token    Token  // unset when there is none (or HF_HUB_DISABLE_IMPLICIT_TOKEN is true)
}

// FromEnv reads the Hub's environment through lookup (os.LookupEnv):
//
//   - HF_ENDPOINT: the Hub's base URL (trailing "/" removed); it must be an
//     absolute http(s) URL without userinfo, query or fragment (whether it may
//     be used is the trust policy's decision);
//   - the token: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file
//     HF_TOKEN_PATH, else $HF_HOME/token, HF_HOME defaulting to
//     $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface ("~" and $VARs
//     expanded as Python's expanduser and expandvars do). Carriage returns and
//     newlines are removed and surrounding spaces trimmed; an empty result is
//     no token. A missing token file is no token; an unreadable one is an
//     error naming it. HF_HUB_DISABLE_IMPLICIT_TOKEN=1/true/yes/on: no token.
//
// Errors never contain the token.
func FromEnv(lookup func(string) (string, bool)) (Env, error) {
	getenv := func(k string) string { v, _ := lookup(k); return v }
	e := Env{Endpoint: DefaultEndpoint}
	if v, ok := lookup("HF_ENDPOINT"); ok {
		e.Endpoint = strings.TrimRight(v, "/")
	}
	if err := checkEndpoint(e.Endpoint); err != nil {
		return Env{}, err
	}
	if isTrue(getenv("HF_HUB_DISABLE_IMPLICIT_TOKEN")) {
		return e, nil
	}
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if v := cleanToken(getenv(k)); v != "" {
			t, err := NewToken(v, k)
			e.Token = t
			return e, err
		}
	}
	path := tokenPath(lookup)
	data, err := readTokenFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return Env{}, fmt.Errorf("hub token file %q: %w", path, err)
	}
	if v := cleanToken(string(data)); v != "" {
		t, err := NewToken(v, path)
		e.Token = t
		return e, err
	}
	return e, nil
}

func isTrue(v string) bool {
	switch strings.ToUpper(v) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func cleanToken(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(s))
}

// checkEndpoint accepts an absolute http(s) URL with a host and nothing but
// a path after it.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: HF_ENDPOINT %q: want an absolute https URL", ErrInvalid, s)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("%w: HF_ENDPOINT %q: userinfo, a query or a fragment is not allowed", ErrInvalid, u.Redacted())
	}
	return nil
}

// tokenPath is where huggingface_hub keeps the token.
func tokenPath(lookup func(string) (string, bool)) string {
	if p, ok := lookup("HF_TOKEN_PATH"); ok {
		return expandVars(expandUser(p, lookup), lookup)
	}
	home, ok := lookup("HF_HOME")
	if !ok {
		cache, ok := lookup("XDG_CACHE_HOME")
		if !ok {
			cache = filepath.Join("~", ".cache")
		}
		home = filepath.Join(cache, "huggingface")
	}
	return filepath.Join(expandVars(expandUser(home, lookup), lookup), "token")
}

// expandUser replaces a leading "~" (alone or before "/") with $HOME, or the
// current user's home folder when HOME is unset. "~user" is left as it is.
func expandUser(p string, lookup func(string) (string, bool)) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, ok := lookup("HOME")
	if !ok {
		h, err := os.UserHomeDir()
		if err != nil {
			return p
		}
		home = h
	}
	return strings.TrimRight(home, "/") + p[1:]
}

// expandVars replaces $NAME and ${NAME} of variables that are set and leaves
// the others as they are (Python's os.path.expandvars).
func expandVars(p string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(p); {
		if p[i] != '$' {
			b.WriteByte(p[i])
			i++
			continue
		}
		name, end := "", i+1
		if end < len(p) && p[end] == '{' {
			if j := strings.IndexByte(p[end:], '}'); j > 1 {
				name, end = p[end+1:end+j], end+j+1
			}
		} else {
			for end < len(p) && isWord(p[end]) {
				end++
			}
			name = p[i+1 : end]
		}
		if v, ok := lookup(name); ok && name != "" {
			b.WriteString(v)
			i = end
			continue
		}
		b.WriteByte('$')
		i++
	}
	return b.String()
}

// readTokenFile reads a regular file of at most maxTokenFile bytes.
func readTokenFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxTokenFile {
		return nil, fmt.Errorf("larger than %d bytes", maxTokenFile)
	}
	return data, nil
}
