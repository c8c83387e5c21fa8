package policy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/scan"
)

const datasetPolicy = `version: 1
dataset:
  fail_on: high
  thresholds:
    silence_dbfs: -70
    rate_min_rows: 20
    inaudible_hz: 17000.5
  severity:
    text/out-of-charset: medium
  ignore:
    - rule: audio/clipping
      clips: ["LJ050-*", LJ001-0001]
      reason: the loud chapter is clipped in the source recording
    - rule: meta/header-row
      reason: the header is expected
`

func TestParseDataset(t *testing.T) {
	p, err := Parse("p.yaml", []byte(datasetPolicy))
	if err != nil {
		t.Fatal(err)
	}
	th, sev, ign, failOn := p.Dataset.Options()
	want := dataset.DefaultThresholds
	want.SilenceDBFS, want.RateMinRows, want.InaudibleHz = -70, 20, 17000.5
	if th != want {
		t.Errorf("thresholds %+v, want %+v", th, want)
	}
	if !reflect.DeepEqual(sev, map[string]scan.Severity{"text/out-of-charset": scan.Medium}) {
		t.Errorf("severity %v", sev)
	}
	wantIgn := []dataset.Ignore{{Rule: "audio/clipping", Clips: []string{"LJ050-*", "LJ001-0001"}, Reason: "the loud chapter is clipped in the source recording"},
		{Rule: "meta/header-row", Reason: "the header is expected"}}
	if !reflect.DeepEqual(ign, wantIgn) {
		t.Errorf("ignore %+v", ign)
	}
	if failOn != scan.High {
		t.Errorf("fail_on %v", failOn)
	}
	// printed and read back: the same section
	q, err := Parse("q.yaml", []byte(p.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, p)
	}
	if !reflect.DeepEqual(q.Dataset, p.Dataset) {
		t.Errorf("round trip: %+v, want %+v", q.Dataset, p.Dataset)
	}
	// no section, or empty ones: the defaults, nothing printed
	for _, in := range []string{"version: 1\ndataset:\n  thresholds: {}\n  severity: {}\n  ignore: []\n", "version: 1\ndataset: {}\n"} {
		p, err := Parse("p.yaml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Dataset, Dataset{}) || strings.Contains(p.String(), "dataset:") {
			t.Errorf("%q: %+v\n%s", in, p.Dataset, p)
		}
	}
	p, err = Parse("p.yaml", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if th, sev, ign, failOn := p.Dataset.Options(); th != dataset.DefaultThresholds || len(sev) != 0 || ign != nil || failOn != scan.Medium {
		t.Errorf("defaults: %+v %v %v %v", th, sev, ign, failOn)
	}
	if strings.Contains(p.String(), "dataset:") {
		t.Errorf("an absent dataset section is printed:\n%s", p)
	}
}

func TestParseDatasetErrors(t *testing.T) {
	const v = "version: 1\ndataset:\n"
	tests := []struct{ name, in, want string }{
		{"list", "version: 1\ndataset: [a]\n", `line 2: dataset: want a mapping, got a list`},
		{"unknown key", v + "  fail: high\n", `line 3: dataset: unknown key "fail"`},
		{"fail_on", v + "  fail_on: severe\n", `line 3: dataset.fail_on: unknown severity "severe"`},
		{"threshold name", v + "  thresholds:\n    silence: -70\n", `line 4: dataset.thresholds: unknown key "silence"`},
		{"threshold string", v + "  thresholds:\n    silence_dbfs: loud\n", `line 4: dataset.thresholds.silence_dbfs: want a number, got a string`},
		{"threshold range", v + "  thresholds:\n    clip_fraction: 2\n", `line 4: dataset.thresholds.clip_fraction: clip_fraction: 2 is outside 0 to 1`},
		{"threshold whole", v + "  thresholds:\n    rate_min_rows: 12.5\n", `rate_min_rows: want a whole number`},
		{"thresholds contradict", v + "  thresholds:\n    min_seconds: 50\n", `line 4: dataset.thresholds: min_seconds 50 is above max_seconds 40`},
		{"severity rule", v + "  severity:\n    audio/loud: high\n", `line 4: dataset.severity: unknown key "audio/loud"`},
		{"severity value", v + "  severity:\n    audio/clipping: urgent\n", `line 4: dataset.severity.audio/clipping: unknown severity "urgent"`},
		{"ignore map", v + "  ignore: {rule: x}\n", `line 3: dataset.ignore: want a list`},
		{"ignore rule", v + "  ignore:\n    - rule: audio/loud\n      reason: x\n", `line 4: dataset.ignore[0].rule: unknown rule "audio/loud"`},
		{"ignore no rule", v + "  ignore:\n    - reason: x\n", `line 4: dataset.ignore[0]: missing rule`},
		{"ignore no reason", v + "  ignore:\n    - rule: audio/clipping\n", `line 4: dataset.ignore[0]: missing reason`},
		{"ignore pattern", v + "  ignore:\n    - rule: audio/clipping\n      clips: [\"LJ[\"]\n      reason: x\n", `line 5: dataset.ignore[0].clips[0]: "LJ[" is not a pattern`},
		{"ignore key", v + "  ignore:\n    - rule: audio/clipping\n      clip: a\n      reason: x\n", `line 5: dataset.ignore[0]: unknown key "clip"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
