package policy

import (
	"net/url"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics; what it accepts prints (String) to a policy
// that parses back to the same value and prints the same again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		fullPolicy, string(DefaultYAML()), "version: 1\n", "", "version: 1\nsources: []\n",
		"version: 1\nscan: &s {profile: coqui}\nstore: *s\n",
		"a: &a [*a, *a]\n", "version: 1\nmodels:\n  a: {signature: required}\n",
		"version: !!binary MQ==\n", "? [a]\n: b\n", "version: 1\n---\n---\n",
		"version: 1\nmodels:\n  \"x\\u0000\": {}\n",
		datasetPolicy,
		"version: 1\nchannels:\n  - {name: prod, url: \"https://m.example/c/\", root: r.json, root_sha256: " + pinHex + ", models: [a, b]}\n",
		"version: 1\nchannels: [{name: x, url: \"http://127.0.0.1:8/\"}]\n",
		"version: 1\nstore:\n  path: /s\n  encryption:\n    recipients: [age1750nml3u5za5se25m250lhqgufha5jxgvxr03aut9m7qeh3vzdeqgq4zl0]\n    identity: k\n",
		"version: 1\nstore: {encryption: {recipients: [\"ssh-ed25519 AAAA\"], identity: ''}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("a policy and an error")
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		out := p.String()
		q, err := Parse("out.yaml", []byte(out))
		if err != nil {
			t.Fatalf("printed policy does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip differs:\n%#v\n%#v", p, q)
		}
		if q.String() != out {
			t.Fatalf("String not stable:\n%s\n%s", out, q.String())
		}
	})
}

// FuzzAllowURL: AllowURL never panics, and never allows a URL with userinfo,
// a dot segment, or a scheme other than http and https.
func FuzzAllowURL(f *testing.F) {
	for _, s := range []string{"https://huggingface.co/coqui/XTTS-v2/resolve/main/model.pth",
		"https://u@huggingface.co/coqui/x", "https://huggingface.co/coqui/%2e%2e/x", "http://127.0.0.1:8080/x",
		"https://github.com/coqui-ai/TTS/releases/download/v0.6.1_models/x.zip?a=b#c"} {
		f.Add(s)
	}
	p := Default()
	p.Sources = append(p.Sources, "http://127.0.0.1:8080/")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if p.AllowURL(u) != nil {
			return
		}
		if u.User != nil || (u.Scheme != "https" && u.Scheme != "http") || badPath(u.Path) != "" {
			t.Fatalf("allowed %q", s)
		}
	})
}
