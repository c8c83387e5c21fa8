package channel

import (
	"encoding/json"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// FuzzDescriptor: a target's custom field and descriptor file are
// untrusted until verified; whatever they hold, parsing does not panic, and
// a descriptor accepted validates, names its own target path and survives
// a round trip.
func FuzzDescriptor(f *testing.F) {
	good := `{"ttsguard":{"name":"vits","version":"1.0","source":"oci://r.example/m:v1","root_digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","published":2}}`
	f.Add("models/vits/1.0.json", []byte(good))
	f.Add("models/vits/2.0.json", []byte(good))
	f.Add("models/../x/1.0.json", []byte(`{"ttsguard":{"name":"../x","version":"1.0"}}`))
	f.Add("p", []byte(`{"ttsguard":null}`))
	f.Add("p", []byte(`[]`))
	f.Fuzz(func(t *testing.T, path string, custom []byte) {
		raw := json.RawMessage(custom)
		tf := &metadata.TargetFiles{Custom: &raw}
		d, err := descriptorOf(path, tf)
		if err == nil {
			if d.Validate() != nil || TargetPath(d.Name, d.Version) != path {
				t.Fatalf("accepted %+v at %q", d, path)
			}
			b, _ := json.Marshal(map[string]Descriptor{"ttsguard": d})
			r2 := json.RawMessage(b)
			if d2, err := descriptorOf(path, &metadata.TargetFiles{Custom: &r2}); err != nil || d2 != d {
				t.Fatalf("round trip: %+v %v", d2, err)
			}
		}
		var file Descriptor
		if strictJSON(custom, &file) == nil && file.Validate() == nil {
			if _, err := json.Marshal(file); err != nil {
				t.Fatal(err)
			}
		}
	})
}
