package lineage

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func testRecord() *Record {
	h := func(c string) string { return strings.Repeat(c, 64) }
	return &Record{
		Subjects: map[string]string{"model.pth": h("a"), "config.json": h("b")},
		Root:     "sha256:" + h("c"),
		Datasets: []Dataset{{Name: "ljs", Path: "/data/ljs", Root: "sha256:" + h("d"), Files: 13, Verified: "pin: matches"}},
		Base:     &Base{Name: "tiny", Dir: "/store/models/tiny/1", Root: "sha256:" + h("e")},
		Config:   &File{Path: "/work/config.json", SHA256: h("f")},
		Code:     &Code{Dir: "/src", Root: "sha256:" + h("1"), Files: map[string]string{"train.py": h("2")}, GitCommit: strings.Repeat("3", 40), GitTree: strings.Repeat("4", 40)},
		Python: &PythonEnv{Interpreter: "/venv/bin/python", Executable: "/usr/bin/python3.11", SHA256: h("5"), Version: "3.11", Venv: "/venv", Prefix: "/usr",
			SiteDirs: []string{"/venv/lib/python3.11/site-packages"},
			Distributions: []Distribution{{Name: "coqui-tts", Version: "0.28.0", Record: h("6"), Path: "/venv/lib/python3.11/site-packages/coqui_tts-0.28.0.dist-info"},
				{Name: "oldegg", Version: "1.0", Path: "/venv/lib/python3.11/site-packages/oldegg-1.0.egg-info"},
				{Name: "Coqui_TTS", Version: "0.27.0", Path: "/usr/lib/python3/dist-packages/Coqui_TTS-0.27.0.egg-info", Shadowed: true}}},
		Command:      []string{"/venv/bin/python", "/src/train.py", "--config_path", "/work/config.json"},
		Out:          "/work/out",
		Version:      "v1.2.3",
		InvocationID: "0123",
		Started:      time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		Finished:     time.Date(2026, 12, 3, 10, 5, 0, 0, time.UTC),
		Sandbox:      map[string]string{"landlock": "ABI 7"},
	}
}

func TestStatementRoundTrip(t *testing.T) {
	r := testRecord()
	payload, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	// The wire form is the in-toto Statement v1 with the SLSA Provenance v1
	// predicate, by the attestation framework's own types and validators.
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	pj, _ := protojson.Marshal(st.GetPredicate())
	var p slsa.Provenance
	if err := protojson.Unmarshal(pj, &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["_type"] != "https://in-toto.io/Statement/v1" || raw["predicateType"] != "https://slsa.dev/provenance/v1" {
		t.Errorf("wire names: %v %v", raw["_type"], raw["predicateType"])
	}
	pred := raw["predicate"].(map[string]any)
	bd := pred["buildDefinition"].(map[string]any)
	if _, ok := bd["resolvedDependencies"]; !ok {
		t.Errorf("no resolvedDependencies in %v", bd)
	}
	if md := pred["runDetails"].(map[string]any)["metadata"].(map[string]any); md["startedOn"] != "2026-12-03T10:00:00Z" {
		t.Errorf("metadata %v", md)
	}
	got, err := Parse(payload)
	if err != nil {
		t.Fatal(err)
	}
	got.Sandbox = r.Sandbox
	if !reflect.DeepEqual(got, r) {
		a, _ := json.MarshalIndent(got, "", " ")
		b, _ := json.MarshalIndent(r, "", " ")
		t.Errorf("round trip:\n%s\nwant\n%s", a, b)
	}
}

func TestParseRefuses(t *testing.T) {
	good, err := Marshal(testRecord())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"https://slsa.dev/provenance/v1"`, `"https://slsa.dev/provenance/v0.2"`, "predicateType"},
		{`"https://in-toto.io/Statement/v1"`, `"https://in-toto.io/Statement/v0.1"`, "_type"},
		{`"buildType"`, `"buildTypo"`, "predicate"},
		{BuildType, "https://example.com/other", "buildType"},
		{`"name": "dataset/ljs"`, `"name": "dataset/"`, "unknown entry"},
		{`"name": "config.json"`, `"name": "model.pth"`, "listed twice"},
		{`"name": "oms-root"`, `"name": "other"`, "no oms-root"},
		{`"name": "dataset/ljs"`, `"name": "code"`, "listed twice"},
	} {
		bad := strings.Replace(string(good), c.from, c.to, 1)
		if bad == string(good) {
			t.Fatalf("%q not in the payload", c.from)
		}
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrProvenance) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: %v, want %q", c.from, c.to, err, c.want)
		}
	}
	r := testRecord()
	r.Datasets = nil
	if _, err := Marshal(r); err != nil {
		t.Fatal(err) // writing without a dataset is the caller's business ...
	}
	p, _ := Marshal(r)
	if _, err := Parse(p); !errors.Is(err, ErrProvenance) { // ... reading one is refused
		t.Errorf("no dataset: %v", err)
	}
}

// FuzzParse: any payload is parsed or refused without panicking, and what
// parses writes back to a statement that parses to the same record.
func FuzzParse(f *testing.F) {
	good, _ := Marshal(testRecord())
	f.Add(good)
	f.Add([]byte(`{"_type": "https://in-toto.io/Statement/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		again, err := Marshal(r)
		if err != nil {
			return // a record that cannot be written (a subject digest of other lengths)
		}
		r2, err := Parse(again)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(r.Subjects, r2.Subjects) || !reflect.DeepEqual(r.Datasets, r2.Datasets) || !reflect.DeepEqual(r.Base, r2.Base) {
			t.Fatalf("round trip changed the record")
		}
	})
}

func TestReadPythonEnv(t *testing.T) {
	dir := t.TempDir()
	venv := filepath.Join(dir, "venv")
	site := filepath.Join(venv, "lib", "python3.11", "site-packages")
	base := filepath.Join(dir, "base")
	baseSite := filepath.Join(base, "lib", "python3.11", "site-packages")
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(base, "bin", "python3.11"), "ELF")
	write(filepath.Join(base, "lib", "python3.11", "os.py"), "")
	write(filepath.Join(site, "coqui_tts-0.28.0.dist-info", "METADATA"), "Metadata-Version: 2.1\nName: coqui-tts\nVersion: 0.28.0\n\nName: not-this\n")
	write(filepath.Join(site, "coqui_tts-0.28.0.dist-info", "RECORD"), "TTS/__init__.py,sha256=x,1\n")
	write(filepath.Join(site, "old-1.0.egg-info", "PKG-INFO"), "Name: old\nVersion: 1.0\n")
	write(filepath.Join(baseSite, "numpy-2.0.dist-info", "METADATA"), "Name: numpy\nVersion: 2.0\n")
	write(filepath.Join(venv, "pyvenv.cfg"), "home = "+filepath.Join(base, "bin")+"\ninclude-system-site-packages = false\n")
	e, err := ReadPythonEnv(filepath.Join(venv, "bin", "python"), filepath.Join(base, "bin", "python3.11"), venv, base)
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != "3.11" || len(e.Distributions) != 2 || e.Distributions[0].Name != "coqui-tts" || e.Distributions[0].Version != "0.28.0" ||
		e.Distributions[1].Name != "old" || e.Distributions[1].Record != "" {
		t.Fatalf("%+v", e)
	}
	sum, _ := fileSHA256(filepath.Join(site, "coqui_tts-0.28.0.dist-info", "RECORD"))
	if e.Distributions[0].Record != sum {
		t.Errorf("record digest %s, want %s", e.Distributions[0].Record, sum)
	}
	// With the system site packages, the base's distributions count too.
	write(filepath.Join(venv, "pyvenv.cfg"), "home = "+filepath.Join(base, "bin")+"\ninclude-system-site-packages = true\n")
	if e, err = ReadPythonEnv(filepath.Join(venv, "bin", "python"), filepath.Join(base, "bin", "python3.11"), venv, base); err != nil || len(e.Distributions) != 3 {
		t.Fatalf("%v %+v", err, e)
	}
	// A name found again (PEP 503 equal) is listed, shadowed, and the
	// statement names it apart.
	write(filepath.Join(baseSite, "Coqui.TTS-0.27.0.egg-info", "PKG-INFO"), "Name: Coqui.TTS\nVersion: 0.27.0\n")
	if e, err = ReadPythonEnv(filepath.Join(venv, "bin", "python"), filepath.Join(base, "bin", "python3.11"), venv, base); err != nil || len(e.Distributions) != 4 {
		t.Fatalf("%v %+v", err, e)
	}
	for _, d := range e.Distributions {
		if d.Shadowed != (d.Name == "Coqui.TTS") {
			t.Errorf("%s shadowed %v", d.Name, d.Shadowed)
		}
	}
	r := testRecord()
	r.Python = e
	p, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(p), `"python/Coqui.TTS~2"`) {
		t.Errorf("shadowed name not in %s", p)
	}
	if got, err := Parse(p); err != nil || !reflect.DeepEqual(got.Python.Distributions, e.Distributions) {
		t.Errorf("parse: %v %+v", err, got)
	}
	// A distribution whose header names nothing is an error, not skipped.
	write(filepath.Join(site, "broken-1.dist-info", "METADATA"), "Summary: x\n")
	if _, err := ReadPythonEnv("p", filepath.Join(base, "bin", "python3.11"), venv, base); err == nil || !strings.Contains(err.Error(), "broken-1.dist-info") {
		t.Errorf("broken metadata: %v", err)
	}
}

// FuzzParseMetadata: any METADATA header parses without panicking, the
// fields it returns are single trimmed lines, and a header written with a
// Name and a Version reads them back.
func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte("Metadata-Version: 2.1\nName: coqui-tts\nVersion: 0.28.0\n\nName: body\n"), "torch", "2.8.0")
	f.Add([]byte("version: 1\r\nNAME: x\r\n"), "a", "1")
	f.Fuzz(func(t *testing.T, data []byte, name, version string) {
		n, v := parseMetadata(bytes.NewReader(data))
		for _, s := range []string{n, v} {
			if strings.ContainsAny(s, "\n") || s != strings.TrimSpace(s) {
				t.Fatalf("field %q", s)
			}
		}
		name, version = strings.TrimSpace(name), strings.TrimSpace(version)
		if name == "" || version == "" || strings.ContainsAny(name+version, "\r\n") {
			return
		}
		n, v = parseMetadata(strings.NewReader("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n\n"))
		if n != name || v != version {
			t.Fatalf("read back %q %q, want %q %q", n, v, name, version)
		}
	})
}
