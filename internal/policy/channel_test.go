package policy

import (
	"strings"
	"testing"
)

const pinHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestChannels(t *testing.T) {
	good := "version: 1\nchannels:\n  - name: prod\n    url: https://models.example/channel/\n    root: root.json\n    root_sha256: " + pinHex + "\n    models: [a, b]\n"
	p, err := Parse("p.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := p.ChannelFor("b")
	if !ok || c.Name != "prod" || c.URL != "https://models.example/channel/" || c.RootSHA256 != pinHex {
		t.Fatalf("ChannelFor(b) = %+v, %v", c, ok)
	}
	if _, ok := p.ChannelFor("c"); ok {
		t.Fatal("channel moves a model it does not list")
	}
	// round trip through the effective policy
	back, err := Parse("back.yaml", []byte(p.String()))
	if err != nil || len(back.Channels) != 1 || back.Channels[0].Root != "root.json" || len(back.Channels[0].Models) != 2 {
		t.Fatalf("round trip: %+v, %v\n%s", back.Channels, err, p.String())
	}
	for _, tc := range []struct{ name, edit, want string }{
		{"http", "url: https://models.example/channel/|url: http://models.example/c/", "plain http"},
		{"pin", "root_sha256: " + pinHex + "|root_sha256: abc", "64 lowercase hex"},
		{"upper pin", "root_sha256: " + pinHex + "|root_sha256: " + strings.ToUpper(pinHex), "64 lowercase hex"},
		{"no models", "models: [a, b]|models: []", "must name the models"},
		{"dup model", "models: [a, b]|models: [a, a]", "listed twice"},
		{"unknown key", "models: [a, b]|models: [a]\n    mirror: x", `unknown key "mirror"`},
		{"name", "name: prod|name: Prod!", "channel name"},
		{"missing root", "    root: root.json\n|", "missing"},
	} {
		parts := strings.SplitN(tc.edit, "|", 2)
		_, err := Parse("p.yaml", []byte(strings.Replace(good, parts[0], parts[1], 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	dup := good + "  - name: prod\n    url: https://x.example/\n    root: r.json\n    root_sha256: " + pinHex + "\n    models: [c]\n"
	if _, err := Parse("p.yaml", []byte(dup)); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate channel: %v", err)
	}
}
