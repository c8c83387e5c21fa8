package config

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ttsguard/ttsguard/internal/scan"
)

var fuzzSeeds = []string{
	vitsConfig, yamlConfig, aliasBomb(),
	"{\n // c\n \"stats_path\": \"http://x/y\" /* d */\n}",
	"defaults: &d\n  speakers_file: http://x/s.pth\nmodel_args:\n  <<: *d\n",
	"stats_path: !!binary L2V0Yy9wYXNzd2Q=\nx: !!python/object/apply:os.system [\"id\"]\n",
	`{"a": [1, -2.5e3, true, null, NaN, -Infinity, "\ud83d\ude00\u0041"]}`,
}

// FuzzScan: Scan never panics, fails only with errors that wrap
// scan.ErrUnscannable, reports offsets inside the file, and reads every
// JSON object (as encoding/json validates it) without error.
func FuzzScan(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	c := testContext(f, scan.ProfileCoqui)
	f.Fuzz(func(t *testing.T, s string) {
		var fs scan.Findings
		err := Scan(context.Background(), c, strings.NewReader(s), int64(len(s)), &fs)
		if err != nil && !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("error %v does not wrap ErrUnscannable", err)
		}
		for _, f := range fs {
			if f.Offset < 0 || f.Offset > int64(len(s)) {
				t.Fatalf("finding offset %d outside the file of %d bytes: %v", f.Offset, len(s), f)
			}
		}
		if err != nil && len(s) < 1000 && utf8.ValidString(s) && json.Valid([]byte(s)) &&
			strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "{") && !strings.HasPrefix(s, "\ufeff") {
			t.Fatalf("a JSON object is unscannable: %v", err)
		}
	})
}

// FuzzParseJSON: the strict parser accepts exactly what encoding/json
// accepts, apart from Python's NaN and Infinity, which only it accepts.
func FuzzParseJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1500 || !utf8.ValidString(s) {
			return
		}
		_, err := parseJSON(s, false)
		if err != nil && !errors.Is(err, errJSON) {
			t.Fatalf("error %v does not wrap errJSON", err)
		}
		if strings.Contains(s, "NaN") || strings.Contains(s, "Infinity") {
			return
		}
		if ours, theirs := err == nil, json.Valid([]byte(s)); ours != theirs {
			t.Fatalf("parseJSON accepts %v, encoding/json %v, for %q (%v)", ours, theirs, s, err)
		}
	})
}

// FuzzPathFields: PathFields never panics, and the span of every field of a
// JSON reading is a JSON string token that decodes to the field's value
// (what ttsguard run relies on to rewrite a copy of the config).
func FuzzPathFields(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add(`{"speakers_file": "/r/speakers.pth", "model_args": {"d_vector_file": ["a\u002fb", "/x\\/y"]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4000 {
			return
		}
		fields, err := PathFields([]byte(s), modelFS)
		if err != nil && !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("error %v does not wrap ErrUnscannable", err)
		}
		for _, fd := range fields {
			if fd.End == 0 {
				continue
			}
			if fd.Offset < 0 || fd.Offset >= fd.End || fd.End > int64(len(s)) {
				t.Fatalf("%s: span [%d, %d) outside the %d bytes", fd.Field, fd.Offset, fd.End, len(s))
			}
			var v string
			if err := json.Unmarshal([]byte(s[fd.Offset:fd.End]), &v); err != nil || v != fd.Value {
				t.Fatalf("%s: span %q decodes to %q (%v), want %q", fd.Field, s[fd.Offset:fd.End], v, err, fd.Value)
			}
		}
	})
}
