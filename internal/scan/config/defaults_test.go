package config

import (
	"testing"
	"testing/fstest"
)

func TestDefaultFiles(t *testing.T) {
	folder := fstest.MapFS{"speakers.pth": {}, "scale_stats.npy": {}, "speaker_ids.json": {}, "speaker_ids.pth": {},
		"own.json": {}, "sub": {Mode: 0o20000000000}}
	tests := []struct {
		name string
		cfg  string
		want map[string]string // field -> resolved
	}{
		{"null top and model_args", `{"d_vector_file": null, "model_args": {"d_vector_file": null}}`,
			map[string]string{"d_vector_file": "speakers.pth", "model_args.d_vector_file": "speakers.pth"}},
		{"empty string", `{"speakers_file": ""}`, map[string]string{"speakers_file": "speaker_ids.pth"}}, // the last default present wins
		{"dangling absolute", `{"speakers_file": "/train/x/gone.json"}`, map[string]string{"speakers_file": "speaker_ids.pth"}},
		{"own base name first", `{"speakers_file": null, "model_args": {"speakers_file": "/train/own.json"}}`,
			map[string]string{"speakers_file": "own.json"}}, // model_args' own value resolves already: PathFields rewrites it
		{"resolved already", `{"d_vector_file": "/train/speakers.pth"}`, map[string]string{}},
		{"stats path under audio", `{"audio": {"stats_path": null}}`, map[string]string{"audio.stats_path": "scale_stats.npy"}},
		{"dotted key is not audio", `{"audio.stats_path": null}`, map[string]string{}},
		{"absent field", `{"model": "vits"}`, map[string]string{}},
		{"no default file", `{"language_ids_file": null, "speaker_encoder_config_path": null}`, map[string]string{}},
		{"list value left alone", `{"d_vector_file": []}`, map[string]string{}},
		{"number left alone", `{"d_vector_file": 0}`, map[string]string{}},
		{"comments give none", "{\"d_vector_file\": null // x\n}", map[string]string{}},
		{"yaml gives none", "d_vector_file: null\n", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultFiles([]byte(tt.cfg), folder)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %v", got, tt.want)
			}
			for _, f := range got {
				if tt.want[f.Field] != f.Resolved {
					t.Errorf("%s -> %q, want %q", f.Field, f.Resolved, tt.want[f.Field])
				}
				tok := tt.cfg[f.Offset:f.End]
				if tok != "null" && tok != `"`+f.Value+`"` {
					t.Errorf("%s: span %q", f.Field, tok)
				}
			}
		})
	}
}

func FuzzDefaultFiles(f *testing.F) {
	f.Add([]byte(`{"d_vector_file": null, "model_args": {"d_vector_file": "/x/speakers.pth"}, "audio": {"stats_path": ""}}`))
	folder := fstest.MapFS{"speakers.pth": {}, "scale_stats.npy": {}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range DefaultFiles(data, folder) {
			if p.Offset < 0 || p.End <= p.Offset || p.End > int64(len(data)) || p.Resolved == "" {
				t.Fatalf("bad field %+v", p)
			}
		}
	})
}
