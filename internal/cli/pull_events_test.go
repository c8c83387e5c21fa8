package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/pull"
)

// TestPullEventsNameRequirements: a pull that brings requirements along
// logs one event per requirement, with its own root and the model that
// requires it, after the model's own event.
func TestPullEventsNameRequirements(t *testing.T) {
	r := &pull.Result{Name: "bark", Root: "sha256:aa", OK: true, Requested: []string{"tts_models/multilingual/multi-dataset/bark"},
		Requires: []*pull.Result{
			{Name: "facebook/encodec_24khz", Root: "sha256:bb", OK: true, Requested: []string{"hf://facebook/encodec_24khz"}},
			{Name: "google-bert/bert-base-multilingual-cased", Root: "sha256:cc", OK: false, Requested: []string{"hf://google-bert/bert-base-multilingual-cased"}},
		}}
	ev := pullEvents("pull", r, nil)
	if len(ev) != 3 || ev[0].Model != "bark" || ev[1].Model != "facebook/encodec_24khz" || ev[2].Root != "sha256:cc" {
		t.Fatalf("events: %+v", ev)
	}
	if !strings.HasPrefix(ev[1].Detail, "requirement of bark; from hf://facebook/encodec_24khz") || !ev[1].OK || ev[2].OK {
		t.Errorf("requirement events: %+v", ev[1:])
	}
	if ev := pullEvents("lock-update", &pull.Result{Name: "m"}, errors.New("gate failed: pin")); len(ev) != 1 || ev[0].OK || ev[0].Command != "lock-update" {
		t.Errorf("a model without requirements: %+v", ev)
	}
}
