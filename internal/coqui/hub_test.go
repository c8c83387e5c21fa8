package coqui

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestHubEntries: the repo_id entries of coqui-tts 0.28's catalog
// (testdata/models-hub.json, copied unchanged) resolve to their repository
// and patterns.
func TestHubEntries(t *testing.T) {
	c, err := LoadCatalog("testdata/models-hub.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id            string
		repo          string
		allow, ignore []string
		tos           bool
	}{
		{"tts_models/multilingual/multi-dataset/xtts_v2", "tts-hub/XTTS-v2", nil, []string{"samples/*", "dvae.pth"}, true},
		{"tts_models/multilingual/multi-dataset/xtts_v1.1", "tts-hub/XTTS-v1", nil, nil, true},
		{"tts_models/multilingual/multi-dataset/bark", "erogol/bark", nil, []string{"hubert.pt"}, false},
		{"tts_models/en/multi-dataset/tortoise-v2", "jbetker/tortoise-tts-v2", []string{"data/mel_norms.pth", ".models/*.pth"}, []string{".models/classifier.pth", "clvp.pth"}, false},
		{"tts_models/en/ljspeech/tacotron2-DCA", "tts-hub/tacotron2_dca-en-ljspeech", nil, nil, false},
		{"tts_models/sr/custom/vits", "daremc86/sr-cv-vits", nil, []string{"test1.wav", "test2.wav"}, false},
		{"tts_models/fa/custom/vits-female", "Kamtera/persian-tts-female-vits", []string{"best_model_30824.pth", "config.json"}, nil, false},
		{"voice_conversion_models/multilingual/multi-dataset/openvoice_v1", "myshell-ai/OpenVoice", []string{"checkpoints/converter/*"}, nil, false},
		{"voice_conversion_models/multilingual/multi-dataset/openvoice_v2", "myshell-ai/OpenVoiceV2", []string{"converter/*"}, nil, false},
	}
	for _, tt := range tests {
		e, err := c.Resolve(tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Shape != ShapeHub || e.Hub == nil || len(e.URLs) != 0 || e.URLKey != "" || e.TOSRequired != tt.tos {
			t.Errorf("%s: %+v", tt.id, e)
			continue
		}
		h := e.Hub
		if h.RepoID != tt.repo || h.RevisionOrDefault() != "main" || !reflect.DeepEqual(h.Allow, tt.allow) || !reflect.DeepEqual(h.Ignore, tt.ignore) {
			t.Errorf("%s: %+v", tt.id, h)
		}
		// Resolve hands out copies.
		h.RepoID = "x/y"
		if len(h.Ignore) > 0 {
			h.Ignore[0] = "changed"
		}
		if again, _ := c.Resolve(tt.id); again.Hub.RepoID != tt.repo || !reflect.DeepEqual(again.Hub.Ignore, tt.ignore) {
			t.Errorf("%s: Resolve shares its entry", tt.id)
		}
	}
	if e, _ := c.Resolve("tts_models/multilingual/multi-dataset/your_tts"); e.Shape != ShapeArchive || e.Hub != nil {
		t.Errorf("your_tts: %+v", e)
	}
}

// TestInstalledCatalogHubEntries checks the installed coqui catalog, when
// there is one: every repo_id entry is a ShapeHub entry.
func TestInstalledCatalogHubEntries(t *testing.T) {
	path, err := FindInstalledCatalog()
	if err != nil {
		t.Skipf("no installed coqui catalog: %v", err)
	}
	c, err := LoadCatalog(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, id := range c.IDs() {
		e, err := c.Resolve(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.Raw["repo_id"]; ok && e.Raw["github_rls_url"] == nil {
			n++
			if e.Shape != ShapeHub || e.Hub == nil {
				t.Errorf("%s: %+v", id, e)
			}
		}
	}
	t.Logf("%s: %d Hugging Face entries of %d", path, n, c.Len())
}

func TestHubEntryErrors(t *testing.T) {
	tests := []struct {
		name, entry, err string
	}{
		{"repo id without owner", `{"repo_id": "bark"}`, "repo_id: invalid Hugging Face reference"},
		{"repo id not a string", `{"repo_id": 5}`, "repo_id: want a repository id"},
		{"patterns without repo id", `{"allow": ["*.pth"]}`, "repo_id: want a repository id"},
		{"allow a number", `{"repo_id": "a/b", "allow": 5}`, "allow: want a pattern or a list of patterns, got a number"},
		{"ignore with a number", `{"repo_id": "a/b", "ignore": ["x", 5]}`, "ignore: want a list of patterns"},
		{"pattern with NUL", `{"repo_id": "a/b", "ignore": ["a\u0000"]}`, "ignore pattern"},
		{"bad revision", `{"repo_id": "a/b", "revision": "../main"}`, `revision: invalid Hugging Face reference: revision "../main"`},
	}
	for _, tt := range tests {
		_, err := ParseCatalog("cat.json", []byte(`{"tts_models": {"en": {"ds": {"m": `+tt.entry+`}}}}`))
		if err == nil || !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "tts_models/en/ds/m") {
			t.Errorf("%s: got %v, want an ErrCatalog naming the model and containing %q", tt.name, err, tt.err)
		}
	}
}

func TestHubEntryForms(t *testing.T) {
	tests := []struct {
		name, entry   string
		shape         string
		allow, ignore []string
		revision      string
	}{
		{"one string is a list of one", `{"repo_id": "a/b", "allow": "*.pth"}`, ShapeHub, []string{"*.pth"}, nil, ""},
		{"null lists", `{"repo_id": "a/b", "allow": null, "ignore": null}`, ShapeHub, nil, nil, ""},
		{"an empty allow list stays given", `{"repo_id": "a/b", "allow": []}`, ShapeHub, []string{}, nil, ""},
		{"a revision", `{"repo_id": "a/b", "revision": "v2.0.3"}`, ShapeHub, nil, nil, "v2.0.3"},
		{"github_rls_url wins", `{"repo_id": "a/b", "github_rls_url": "https://example.test/m.zip"}`, ShapeArchive, nil, nil, ""},
		{"repo_id wins over hf_url", `{"repo_id": "a/b", "hf_url": ["https://example.test/m.pth"]}`, ShapeHub, nil, nil, ""},
	}
	for _, tt := range tests {
		c, err := ParseCatalog("cat.json", []byte(`{"tts_models": {"en": {"ds": {"m": `+tt.entry+`}}}}`))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		e, _ := c.Resolve("tts_models/en/ds/m")
		if e.Shape != tt.shape {
			t.Errorf("%s: shape %s", tt.name, e.Shape)
			continue
		}
		if tt.shape != ShapeHub {
			continue
		}
		if !reflect.DeepEqual(e.Hub.Allow, tt.allow) || !reflect.DeepEqual(e.Hub.Ignore, tt.ignore) || e.Hub.Revision != tt.revision || len(e.URLs) != 0 {
			t.Errorf("%s: %+v", tt.name, e.Hub)
		}
	}
}
