package policy

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const digestA = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

const fullPolicy = `# a policy that uses every key
version: 1
store: /srv/ttsguard
sources:
  - https://models.example.test/coqui/
  - https://cdn.example.test:8443/files
  - http://127.0.0.1:8080/
ca_bundle: certs/ca.pem
signers:
  - name: release-key
    public_key: keys/release.pub
  - name: corp-ca
    certificate_chain: [certs/root.pem, certs/intermediate.pem]
  - name: ci
    identity: https://github.com/example/models/.github/workflows/sign.yml@refs/heads/main
    issuer: https://token.actions.githubusercontent.com
    trust_root: trusted_root.json
models:
  tts_models/en/ljspeech/vits:
    digest: ` + digestA + `
    signature: required
    signers: [release-key, ci]
  tts_models/multilingual/multi-dataset/xtts_v2:
    tos_accepted: true
  house-voice:
    urls:
      - https://models.example.test/coqui/house/model.pth
      - https://models.example.test/coqui/house/config.json
  alias:
    source: tts_models/en/ljspeech/vits
scan:
  profile: weights-only
  allow_globals: [collections.OrderedDict, "mylib.layers:Conv"]
run:
  user: tts
  group: "1001"
  allow_read: [/opt/tts-venv, venv2]
  env: [CUDA_VISIBLE_DEVICES]
`

func TestParseFull(t *testing.T) {
	p, err := Parse("full.yaml", []byte(fullPolicy))
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{
		Version:  1,
		Store:    "/srv/ttsguard",
		Sources:  []string{"https://models.example.test/coqui/", "https://cdn.example.test:8443/files", "http://127.0.0.1:8080/"},
		CABundle: "certs/ca.pem",
		Signers: []Signer{
			{Name: "release-key", PublicKey: "keys/release.pub"},
			{Name: "corp-ca", CertificateChain: []string{"certs/root.pem", "certs/intermediate.pem"}},
			{Name: "ci", Identity: "https://github.com/example/models/.github/workflows/sign.yml@refs/heads/main",
				Issuer: "https://token.actions.githubusercontent.com", TrustRoot: "trusted_root.json"},
		},
		Models: map[string]Model{
			"tts_models/en/ljspeech/vits":                   {Digest: digestA, Signature: "required", Signers: []string{"release-key", "ci"}},
			"tts_models/multilingual/multi-dataset/xtts_v2": {Signature: "optional", TOSAccepted: true},
			"house-voice": {Signature: "optional", URLs: []string{
				"https://models.example.test/coqui/house/model.pth", "https://models.example.test/coqui/house/config.json"}},
			"alias": {Signature: "optional", Source: "tts_models/en/ljspeech/vits"},
		},
		Scan: Scan{Profile: "weights-only", AllowGlobals: []string{"collections.OrderedDict", "mylib.layers:Conv"}},
		Run:  Run{User: "tts", Group: "1001", AllowRead: []string{"/opt/tts-venv", "venv2"}, Env: []string{"CUDA_VISIBLE_DEVICES"}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", p, want)
	}
	if k := p.Signers[0].Kind() + "," + p.Signers[1].Kind() + "," + p.Signers[2].Kind(); k != "key,certificate,keyless" {
		t.Errorf("kinds %s", k)
	}
	if got := p.SignersFor("tts_models/en/ljspeech/vits"); len(got) != 2 || got[0].Name != "release-key" || got[1].Name != "ci" {
		t.Errorf("SignersFor(vits) = %v", got)
	}
	if got := p.SignersFor("unknown"); len(got) != 3 {
		t.Errorf("SignersFor(unknown) = %v", got)
	}
	if got := p.SignersFor("house-voice"); len(got) != 3 {
		t.Errorf("SignersFor(house-voice) = %v", got)
	}
	if m := p.ModelPolicy("nope"); !reflect.DeepEqual(m, Model{}) || m.RequiresSignature() {
		t.Errorf("ModelPolicy(nope) = %#v", m)
	}
	if !p.ModelPolicy("tts_models/en/ljspeech/vits").RequiresSignature() {
		t.Error("vits should require a signature")
	}
	if _, err := p.ScanPolicy(); err != nil {
		t.Error(err)
	}
}

func TestParseDefaults(t *testing.T) {
	p, err := Parse("min.yaml", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Sources, Default().Sources) || p.Scan.Profile != ProfileCoqui || p.Store != "" ||
		len(p.Signers) != 0 || len(p.Models) != 0 {
		t.Errorf("minimal policy: %#v", p)
	}
	p, err = Parse("null.yaml", []byte("version: 1\nsources:\nsigners:\nmodels:\nscan:\nstore:\nca_bundle:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Sources, Default().Sources) || p.Scan.Profile != ProfileCoqui {
		t.Errorf("null keys: %#v", p)
	}
	p, err = Parse("none.yaml", []byte("version: 1\nsources: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Sources == nil || len(p.Sources) != 0 {
		t.Errorf("sources: [] gave %#v", p.Sources)
	}
	if err := p.AllowURLString("https://github.com/coqui-ai/TTS/releases/download/x.zip"); err == nil {
		t.Error("sources: [] allowed a URL")
	}
	p, err = Parse("model.yaml", []byte("version: 1\nmodels:\n  a:\n  b: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Models["a"].Signature != "optional" || p.Models["b"].Signature != "optional" {
		t.Errorf("empty models: %#v", p.Models)
	}
}

func TestDefault(t *testing.T) {
	p := Default()
	if p.Path != "" || p.Version != 1 || p.Scan.Profile != ProfileCoqui || len(p.Signers) != 0 || len(p.Models) != 0 {
		t.Errorf("default: %#v", p)
	}
	p.Sources[0] = "changed"
	if Default().Sources[0] == "changed" {
		t.Error("Default shares state between calls")
	}
	p = Default()
	for _, u := range []string{
		"https://github.com/coqui-ai/TTS/releases/download/v0.6.1_models/tts_models--en--ljspeech--vits.zip",
		"https://github.com/idiap/coqui-ai-TTS/releases/download/v0.25.2_models/vocoder_models--en--librispeech100--wavlm-hifigan.zip",
		"https://huggingface.co/coqui/XTTS-v2/resolve/main/model.pth",
		"https://huggingface.co/api/resolve-cache/models/coqui/XTTS-v2/6c2b0d75eb5e4a8f8d3f1f7e5d4c3b2a1f0e9d8c/config.json",
		"https://coqui.gateway.scarf.sh/v0.6.1_models/tts_models--en--ljspeech--vits.zip",
		"https://release-assets.githubusercontent.com/github-production-release-asset/123/abc?sig=x",
		"https://dl.fbaipublicfiles.com/mms/tts/eng.tar.gz",
	} {
		if err := p.AllowURLString(u); err != nil {
			t.Errorf("default refuses %s: %v", u, err)
		}
	}
	for _, u := range []string{
		"http://github.com/coqui-ai/TTS/releases/download/x.zip",
		"https://github.com/evil/TTS/releases/download/x.zip",
		"https://huggingface.co/evil/XTTS-v2/resolve/main/model.pth",
		"https://huggingface.co/coqui/../evil/model.pth",
	} {
		if err := p.AllowURLString(u); err == nil {
			t.Errorf("default allows %s", u)
		}
	}
	if !strings.Contains(string(DefaultYAML()), "version: 1") {
		t.Error("DefaultYAML")
	}
}

// TestParseErrors: every validation error, with its exact text.
func TestParseErrors(t *testing.T) {
	const v = "version: 1\n"
	const key = "signers:\n  - name: k\n    public_key: k.pub\n"
	tests := []struct{ name, in, want string }{
		// document
		{"unknown top key", v + "sourcez: []\n", `policy "p.yaml": line 2: unknown key "sourcez"`},
		{"syntax", "version: [1\n", `policy "p.yaml": line 1: did not find expected ',' or ']'`},
		{"tab", v + "\tstore: x\n", `policy "p.yaml": line 2: found a tab character that violates indentation`},
		{"two documents", v + "---\nversion: 1\n", `policy "p.yaml": line 2: only one YAML document is allowed`},
		{"not a mapping", "- version\n", `policy "p.yaml": line 1: want a mapping, got a list`},
		{"scalar document", "hello\n", `policy "p.yaml": line 1: want a mapping, got a string`},
		{"duplicate key", v + "version: 1\n", `policy "p.yaml": line 2: key "version" is given twice (first on line 1)`},
		{"non-string key", v + "1: x\n", `policy "p.yaml": line 2: want a string key, got an integer`},
		{"alias", v + "scan: &s {profile: coqui}\nstore: *s\n", `policy "p.yaml": line 3: store: aliases are not allowed`},
		{"merge key", v + "scan:\n  <<: {profile: coqui}\n", `policy "p.yaml": line 3: scan: merge keys (<<) are not allowed`},
		{"too big", v + "# " + strings.Repeat("x", MaxFileSize), `policy "p.yaml": larger than 1048576 bytes`},
		// version
		{"version missing", "store: x\n", `policy "p.yaml": version: missing: want version: 1`},
		{"version empty file", "", `policy "p.yaml": version: missing: want version: 1`},
		{"version 2", "version: 2\n", `policy "p.yaml": line 1: version: unsupported version 2: want 1`},
		{"version string", "version: \"1\"\n", `policy "p.yaml": line 1: version: want an integer, got a string`},
		{"version float", "version: 1.0\n", `policy "p.yaml": line 1: version: want an integer, got a number`},
		{"version list", "version: [1]\n", `policy "p.yaml": line 1: version: want an integer, got a list`},
		// store, ca_bundle
		{"store int", v + "store: 5\n", `policy "p.yaml": line 2: store: want a string, got an integer`},
		{"store control", v + "store: \"a\\nb\"\n", `policy "p.yaml": line 2: store: path "a\nb" has a control character`},
		{"ca_bundle map", v + "ca_bundle: {a: b}\n", `policy "p.yaml": line 2: ca_bundle: want a string, got a mapping`},
		// sources
		{"sources string", v + "sources: https://x.test/\n", `policy "p.yaml": line 2: sources: want a list of strings, got a string`},
		{"sources item int", v + "sources: [1]\n", `policy "p.yaml": line 2: sources[0]: want a string, got an integer`},
		{"source http", v + "sources:\n  - http://example.test/\n", `policy "p.yaml": line 3: sources[0]: "http://example.test/": plain http is allowed only for 127.0.0.1, [::1] and localhost; use https`},
		{"source ftp", v + "sources:\n  - ftp://example.test/\n", `policy "p.yaml": line 3: sources[0]: "ftp://example.test/": want an https URL or an oci:// registry prefix`},
		{"source relative", v + "sources:\n  - example.test/models\n", `policy "p.yaml": line 3: sources[0]: "example.test/models": want an https URL or an oci:// registry prefix`},
		{"source no host", v + "sources:\n  - https:///models/\n", `policy "p.yaml": line 3: sources[0]: "https:///models/" has no host`},
		{"source userinfo", v + "sources:\n  - https://u:p@example.test/\n", `policy "p.yaml": line 3: sources[0]: "https://u:p@example.test/": userinfo is not allowed`},
		{"source query", v + "sources:\n  - https://example.test/?a=b\n", `policy "p.yaml": line 3: sources[0]: "https://example.test/?a=b": a query is not allowed`},
		{"source fragment", v + "sources:\n  - https://example.test/#x\n", `policy "p.yaml": line 3: sources[0]: "https://example.test/#x": a fragment is not allowed`},
		{"source port", v + "sources:\n  - https://example.test:99999/\n", `policy "p.yaml": line 3: sources[0]: "https://example.test:99999/": port "99999" out of range`},
		{"source dot segment", v + "sources:\n  - https://example.test/a/../b/\n", `policy "p.yaml": line 3: sources[0]: "https://example.test/a/../b/": path has a dot segment`},
		{"source unparsable", v + "sources:\n  - \"https://exa mple.test/\"\n", `policy "p.yaml": line 3: sources[0]: "https://exa mple.test/" is not a URL`},
		{"source twice", v + "sources:\n  - https://a.test/\n  - https://a.test/\n", `policy "p.yaml": line 4: sources[1]: "https://a.test/" is listed twice (first on line 3)`},
		// signers
		{"signers map", v + "signers: {a: b}\n", `policy "p.yaml": line 2: signers: want a list of signers, got a mapping`},
		{"signer string", v + "signers: [k]\n", `policy "p.yaml": line 2: signers[0]: want a mapping, got a string`},
		{"signer unknown key", v + "signers:\n  - name: k\n    public_keys: k.pub\n", `policy "p.yaml": line 4: signers[0]: unknown key "public_keys"`},
		{"signer no name", v + "signers:\n  - public_key: k.pub\n", `policy "p.yaml": line 3: signers[0]: name is missing`},
		{"signer bad name", v + "signers:\n  - name: a b\n    public_key: k.pub\n", `policy "p.yaml": line 3: signers[0].name: invalid signer name "a b": want letters, digits, '.', '_', '@' or '-', at most 128`},
		{"signer dup", v + key + "  - name: k\n    public_key: j.pub\n", `policy "p.yaml": line 5: signers[1].name: signer "k" is already defined on line 3`},
		{"signer none", v + "signers:\n  - name: k\n", `policy "p.yaml": line 3: signers[0]: signer "k" sets no key: want exactly one of public_key, certificate_chain, or identity and issuer`},
		{"signer empty chain", v + "signers:\n  - name: k\n    certificate_chain: []\n", `policy "p.yaml": line 3: signers[0]: signer "k" sets no key: want exactly one of public_key, certificate_chain, or identity and issuer`},
		{"signer two kinds", v + "signers:\n  - name: k\n    public_key: k.pub\n    certificate_chain: [c.pem]\n", `policy "p.yaml": line 3: signers[0]: signer "k" sets public_key and certificate_chain: want exactly one of public_key, certificate_chain, or identity and issuer`},
		{"signer key and keyless", v + "signers:\n  - name: k\n    public_key: k.pub\n    identity: a@b.test\n    issuer: https://i.test\n", `policy "p.yaml": line 3: signers[0]: signer "k" sets public_key and identity and issuer: want exactly one of public_key, certificate_chain, or identity and issuer`},
		{"keyless no issuer", v + "signers:\n  - name: k\n    identity: a@b.test\n", `policy "p.yaml": line 3: signers[0]: keyless signer "k" has an identity but no issuer`},
		{"keyless no identity", v + "signers:\n  - name: k\n    issuer: https://i.test\n", `policy "p.yaml": line 3: signers[0]: keyless signer "k" has an issuer but no identity`},
		{"issuer http", v + "signers:\n  - name: k\n    identity: a@b.test\n    issuer: http://i.test\n", `policy "p.yaml": line 5: signers[0].issuer: issuer "http://i.test": want an https URL (such as https://accounts.google.com)`},
		{"trust root with key", v + "signers:\n  - name: k\n    public_key: k.pub\n    trust_root: t.json\n", `policy "p.yaml": line 3: signers[0].trust_root: only keyless signers (identity and issuer) use a trust root`},
		{"chain item empty", v + "signers:\n  - name: k\n    certificate_chain: [\"\"]\n", `policy "p.yaml": line 4: signers[0].certificate_chain[0]: empty path`},
		{"chain string", v + "signers:\n  - name: k\n    certificate_chain: c.pem\n", `policy "p.yaml": line 4: signers[0].certificate_chain: want a list of strings, got a string`},
		// models
		{"models list", v + "models: [a]\n", `policy "p.yaml": line 2: models: want a mapping, got a list`},
		{"model bad name", v + "models:\n  ../x: {}\n", `policy "p.yaml": line 3: models: invalid model name "../x": want segments of letters, digits, '.', '_' or '-' separated by '/', at most 256 bytes`},
		{"model name slash end", v + "models:\n  a/: {}\n", `policy "p.yaml": line 3: models: invalid model name "a/": want segments of letters, digits, '.', '_' or '-' separated by '/', at most 256 bytes`},
		{"model unknown key", v + "models:\n  a:\n    digets: x\n", `policy "p.yaml": line 4: models["a"]: unknown key "digets"`},
		{"model string", v + "models:\n  a: pinned\n", `policy "p.yaml": line 3: models["a"]: want a mapping, got a string`},
		{"digest bad", v + "models:\n  a:\n    digest: sha256:abc\n", `policy "p.yaml": line 4: models["a"].digest: "sha256:abc" is not a digest: want sha256:<64 lowercase hex digits>`},
		{"digest upper", v + "models:\n  a:\n    digest: " + strings.ToUpper(digestA) + "\n", `policy "p.yaml": line 4: models["a"].digest: "` + strings.ToUpper(digestA) + `" is not a digest: want sha256:<64 lowercase hex digits>`},
		{"digest sha512", v + "models:\n  a:\n    digest: sha512:" + strings.Repeat("0", 128) + "\n", `policy "p.yaml": line 4: models["a"].digest: "sha512:` + strings.Repeat("0", 128) + `" is not a digest: want sha256:<64 lowercase hex digits>`},
		{"signature bad", v + "models:\n  a:\n    signature: always\n", `policy "p.yaml": line 4: models["a"].signature: want required or optional, got "always"`},
		{"signature bool", v + "models:\n  a:\n    signature: true\n", `policy "p.yaml": line 4: models["a"].signature: want a string, got a boolean`},
		{"signature required no signers", v + "models:\n  a:\n    signature: required\n", `policy "p.yaml": line 4: models["a"].signature: required, but the policy defines no signers`},
		{"model signer undefined", v + key + "models:\n  a:\n    signers: [k, j]\n", `policy "p.yaml": line 7: models["a"].signers[1]: no signer named "j" (define it under signers)`},
		{"model signer twice", v + key + "models:\n  a:\n    signers: [k, k]\n", `policy "p.yaml": line 7: models["a"].signers[1]: signer "k" is listed twice`},
		{"tos yes", v + "models:\n  a:\n    tos_accepted: yes\n", `policy "p.yaml": line 4: models["a"].tos_accepted: want true or false, got a string`},
		{"source and urls", v + "models:\n  a:\n    source: b\n    urls: [https://x.test/a]\n", `policy "p.yaml": line 3: models["a"]: source and urls are exclusive`},
		{"source not allowed", v + "sources: [https://x.test/ok/]\nmodels:\n  a:\n    source: https://x.test/other/m.zip\n", `policy "p.yaml": line 5: models["a"].source: url "https://x.test/other/m.zip" is not in the policy's sources`},
		{"source allowed later", v + "models:\n  a:\n    source: https://x.test/other/m.zip\nsources: [https://x.test/ok/]\n", `policy "p.yaml": line 4: models["a"].source: url "https://x.test/other/m.zip" is not in the policy's sources`},
		{"source bad id", v + "models:\n  a:\n    source: not an id\n", `policy "p.yaml": line 4: models["a"].source: "not an id" is neither a URL nor a model id`},
		{"url not allowed", v + "models:\n  a:\n    urls: [\"http://x.test/a\"]\n", `policy "p.yaml": line 4: models["a"].urls[0]: url "http://x.test/a" is not in the policy's sources (plain http is allowed only for loopback sources listed explicitly)`},
		{"url twice", v + "sources: [https://x.test/]\nmodels:\n  a:\n    urls:\n      - https://x.test/a\n      - https://x.test/a\n", `policy "p.yaml": line 7: models["a"].urls[1]: "https://x.test/a" is listed twice`},
		{"url not a URL", v + "models:\n  a:\n    urls: [\"x://\\u0001\"]\n", `policy "p.yaml": line 4: models["a"].urls[0]: "x://\x01" is not a URL`},
		// scan
		{"scan list", v + "scan: [coqui]\n", `policy "p.yaml": line 2: scan: want a mapping, got a list`},
		{"scan unknown", v + "scan:\n  profiles: coqui\n", `policy "p.yaml": line 3: scan: unknown key "profiles"`},
		{"scan profile", v + "scan:\n  profile: paranoid\n", `policy "p.yaml": line 3: scan.profile: unknown profile "paranoid": want coqui or weights-only`},
		{"scan global exec", v + "scan:\n  allow_globals: [os.system]\n", `policy "p.yaml": line 3: scan.allow_globals[0]: allowed global "os.system": a policy cannot allow code execution (...`},
		{"scan global dunder", v + "scan:\n  allow_globals: [builtins.__import__]\n", `policy "p.yaml": line 3: scan.allow_globals[0]: allowed global "builtins.__import__": dunder names are never allowed`},
		{"scan global malformed", v + "scan:\n  allow_globals: [nodot]\n", `policy "p.yaml": line 3: scan.allow_globals[0]: allowed global "nodot": want module.name or module:qualname`},
		{"scan global twice", v + "scan:\n  allow_globals: [a.b, a.b]\n", `policy "p.yaml": line 3: scan.allow_globals[1]: "a.b" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error; got %#v", p)
			}
			// The scanner's own reasons are matched up to "...".
			if prefix, ok := strings.CutSuffix(tt.want, "..."); ok && strings.HasPrefix(err.Error(), prefix) {
				return
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Errorf("error %T does not wrap *Error and ErrInvalid", err)
			}
		})
	}
}

func TestValidModelName(t *testing.T) {
	for _, s := range []string{"tts_models/en/ljspeech/vits", "tts_models/en/ljspeech/vits--neon", "xtts_v2.0.2", "house-voice", "a/b"} {
		if !ValidModelName(s) {
			t.Errorf("ValidModelName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "/a", "a//b", "a/./b", "a/..", ".hidden", "a b", "a\x00", strings.Repeat("a", 257)} {
		if ValidModelName(s) {
			t.Errorf("ValidModelName(%q) = true", s)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, in := range []string{fullPolicy, "version: 1\n", string(DefaultYAML()), "version: 1\nsources: []\nmodels: {a: {}}\n"} {
		p, err := Parse("p.yaml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		out := p.String()
		q, err := Parse("out.yaml", []byte(out))
		if err != nil {
			t.Fatalf("String output does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("round trip differs:\n%#v\n%#v", p, q)
		}
		if q.String() != out {
			t.Errorf("String not stable:\n%s\n%s", out, q.String())
		}
	}
	p, _ := Parse("p.yaml", []byte(fullPolicy))
	want := "models:\n  alias:\n    source: tts_models/en/ljspeech/vits\n    signature: optional\n    tos_accepted: false\n"
	if !strings.Contains(p.String(), want) {
		t.Errorf("String:\n%s\nlacks\n%s", p, want)
	}
}

// TestDocsShowDefault: docs/policy.md shows the embedded default policy in full.
func TestDocsShowDefault(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Skip("docs/policy.md not found:", err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(DefaultYAML())+"```\n") {
		t.Error("docs/policy.md does not show internal/policy/default.yaml verbatim")
	}
}

// TestDocsExample: the complete example of docs/policy.md is a valid policy.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Skip("docs/policy.md not found:", err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete example\n\n```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("no complete example in docs/policy.md")
	}
	p, err := Parse("docs/policy.md", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Signers) != 3 || len(p.Models) != 3 || !p.ModelPolicy("tts_models/en/ljspeech/vits").RequiresSignature() {
		t.Errorf("example: %+v", p)
	}
}
