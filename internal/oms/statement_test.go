package oms

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/testutil"
)

// TestGoldenStatements reproduces every statement the reference produces for
// its fixtures: subject, serialization and resources, in order.
func TestGoldenStatements(t *testing.T) {
	base := filepath.Join(testutil.Vectors(t), "model-transparency", "goldens", "_signing", "testdata", "signing", "TestPayload")
	modes := map[string]manifest.Options{
		"":              {Method: manifest.MethodFiles, AllowSymlinks: true},
		"_shard":        {Method: manifest.MethodShards, AllowSymlinks: true},
		"_small_shards": {Method: manifest.MethodShards, ShardSize: 8, AllowSymlinks: true},
	}
	for suffix, o := range modes {
		for _, fx := range testutil.Fixtures {
			t.Run(fx+suffix, func(t *testing.T) {
				golden, err := os.ReadFile(filepath.Join(base, fx+suffix))
				if err != nil {
					t.Fatal(err)
				}
				model := testutil.MakeFixture(t, t.TempDir(), fx)
				m, err := manifest.Build(context.Background(), model, o)
				if err != nil {
					t.Fatal(err)
				}
				ours, err := NewStatement(filepath.Base(model), m).Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if got, want := normalize(t, ours), normalize(t, golden); !reflect.DeepEqual(got, want) {
					t.Errorf("statement differs\n got %v\nwant %v", got, want)
				}
				// And the golden parses, with the same root and items; except
				// a statement without resources, which OMS v1.0 does not allow
				// (the reference signs one for an empty model).
				sg, err := ParseStatement(golden)
				if len(m.Items) == 0 {
					if !errors.Is(err, ErrStatement) || !strings.Contains(err.Error(), "no resources") {
						t.Fatalf("parse golden without resources: %v, want ErrStatement", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("parse golden: %v", err)
				}
				if sg.Root.Hex() != m.Root().Hex() || len(sg.Items) != len(m.Items) {
					t.Errorf("parsed golden root %s (%d items), ours %s (%d)", sg.Root.Hex(), len(sg.Items), m.Root().Hex(), len(m.Items))
				}
			})
		}
	}
}

// normalize decodes JSON with numbers as float64, so 8 and 8.0 compare equal.
func normalize(t *testing.T, b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return v
}

func TestParseStatementRejects(t *testing.T) {
	valid := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"%s"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"%s","hash_type":"sha256","allow_symlinks":false%s},"resources":[{"name":"%s","algorithm":"%s","digest":"bc9a717db6064a32cbe9eae6fc40651dd6d36ef1757183f590eff2b1765d7ebc"}]}}`
	const root = "a55b35c3fb2ec0e5d48c78ba1cc6c3ba1a8a96b3b0a4a9ec3cbb5a4fd5bba8f7"
	_ = root
	cases := map[string]string{
		"not json":        `{`,
		"trailing":        `{"_type":"https://in-toto.io/Statement/v1"} {}`,
		"wrong type":      `{"_type":"x","subject":[],"predicateType":"https://model_signing/signature/v1.0"}`,
		"wrong predicate": `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://example.com/wrong-predicate/v1.0"}`,
		"two subjects":    `{"_type":"https://in-toto.io/Statement/v1","subject":[{},{}],"predicateType":"https://model_signing/signature/v1.0"}`,
		"bad method":      sprintf(valid, "00", "tar", "", "a", "sha256"),
		"bad root":        sprintf(valid, "0000000000000000000000000000000000000000000000000000000000000000", "files", "", "a", "sha256"),
		"wrong alg":       sprintf(valid, "0000000000000000000000000000000000000000000000000000000000000000", "files", "", "a", "sha512"),
		"no shard size":   sprintf(valid, "0000000000000000000000000000000000000000000000000000000000000000", "shards", "", "a:0:1", "sha256-sharded-0"),
		"frac shard size": sprintf(valid, "0000000000000000000000000000000000000000000000000000000000000000", "shards", `,"shard_size":8.5`, "a:0:1", "sha256-sharded-8"),
		// The root of no digests is SHA-256 of nothing.
		"no resources": `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":false},"resources":[]}}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseStatement([]byte(in)); !errors.Is(err, ErrStatement) {
				t.Fatalf("err = %v, want ErrStatement", err)
			}
		})
	}
}
