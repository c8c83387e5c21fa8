package inspect

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/config"
	"github.com/ttsguard/ttsguard/internal/tensors"
)

// TestVITSShapes: for every config testdata/gen.py built with coqui's
// Vits(config), the rules expect exactly the state dict coqui built.
func TestVITSShapes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "shapes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name      string             `json:"name"`
		ModelArgs map[string]any     `json:"model_args"`
		StateDict map[string][]int64 `json:"state_dict"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var fs []Finding
			arch, va := declared(map[string]any{"model": "vits", "model_args": c.ModelArgs}, &fs)
			if va == nil || len(fs) > 0 || arch.Model != "vits" {
				t.Fatalf("config not read: %v", fs)
			}
			weights := map[string]*tensors.Tensor{}
			for name, shape := range c.StateDict {
				weights[name] = &tensors.Tensor{Name: name, Weight: true, Shape: shape}
			}
			n, fs := checkVITS(va, weights, "model.pth")
			if len(fs) > 0 || n != len(c.StateDict) {
				t.Fatalf("%d expected, coqui has %d; findings: %v", n, len(c.StateDict), fs)
			}
			// One tensor fewer, one more, one reshaped: each is named.
			var some string
			for name := range weights {
				some = name
				break
			}
			gone := weights[some]
			delete(weights, some)
			weights["flow.flows.9.pre.weight"] = &tensors.Tensor{Name: "flow.flows.9.pre.weight", Weight: true, Shape: []int64{1}}
			conv := weights["posterior_encoder.pre.weight"]
			if some == "posterior_encoder.pre.weight" {
				conv = weights["posterior_encoder.proj.weight"]
			}
			conv.Shape = append([]int64{conv.Shape[0] + 1}, conv.Shape[1:]...)
			_, fs = checkVITS(va, weights, "model.pth")
			got := map[string]string{}
			for _, f := range fs {
				got[f.Tensor] = f.Rule
			}
			if got[some] != RuleMissing || got["flow.flows.9.pre.weight"] != RuleExtra || got[conv.Name] != RuleShape || len(fs) != 3 {
				t.Errorf("findings %v (removed %s %v)", fs, some, gone.Shape)
			}
		})
	}
}

func inspectDir(t *testing.T, dir string) *Report {
	t.Helper()
	r, err := Inspect(context.Background(), filepath.Join("testdata", dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInspectTinyVITS(t *testing.T) {
	r := inspectDir(t, "tiny-vits")
	if r.Failed() || r.Arch == nil || !r.Arch.Checked || r.Arch.Model != "vits" || r.Model != "model.pth" || r.Config != "config.json" {
		t.Fatalf("%+v %+v", r, r.Findings)
	}
	if len(r.Checkpoints) != 1 {
		t.Fatalf("checkpoints %+v", r.Checkpoints)
	}
	ck := r.Checkpoints[0]
	var params int64
	for _, x := range ck.Tensors {
		if x.Weight {
			params += x.Params
		}
	}
	if !ck.Checked || ck.Weights != r.Arch.Expected || ck.Params != params || r.Params != params || ck.Format != tensors.FormatTorchZip {
		t.Errorf("%d weights, %d expected, %d parameters (report %d, sum %d)", ck.Weights, r.Arch.Expected, ck.Params, r.Params, params)
	}
	found := false
	for _, s := range r.Arch.Sizes {
		found = found || s.Key == "model_args.hidden_channels" && s.Value == "4"
	}
	if !found {
		t.Errorf("sizes %v", r.Arch.Sizes)
	}
}

func TestInspectTampered(t *testing.T) {
	for dir, want := range map[string][2]string{
		"tampered-extra": {RuleExtra, "text_encoder.backdoor.weight"},
		"tampered-shape": {RuleShape, "waveform_decoder.conv_pre.weight"},
	} {
		r := inspectDir(t, dir)
		if !r.Failed() {
			t.Errorf("%s: not a finding", dir)
		}
		var got []Finding
		for _, f := range r.Findings {
			if f.Severity > scan.Info {
				got = append(got, f)
			}
		}
		if len(got) != 1 || got[0].Rule != want[0] || got[0].Tensor != want[1] || got[0].File != "model.pth" {
			t.Errorf("%s: findings %+v, want %s on %s", dir, got, want[0], want[1])
		}
	}
}

func TestInspectConfigErrors(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join("testdata", "tiny-vits", "model.pth"))
	os.WriteFile(filepath.Join(dir, "model.pth"), b, 0o644)
	for cfg, rule := range map[string]string{
		`{"model": "vits", "model_args": {"hidden_channels": "four"}}`: RuleConfig,
		`{"model": "vits", "model_args": {"hidden_channels": 5}}`:      RuleConfig,
		`[1]`: RuleConfig,
		`{"model": "vits", "model_args": {"hidden_channels": 6, "num_layers_text_encoder": 1, "out_channels": 9}}`: RuleShape,
	} {
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
		r, err := Inspect(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		seen := false
		for _, f := range r.Findings {
			seen = seen || f.Rule == rule
		}
		if !seen || !r.Failed() {
			t.Errorf("%s: findings %v, want %s", cfg, r.Findings, rule)
		}
	}
	// Another model type is listed, not checked, and not a failure.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model": "glow_tts"}`), 0o644)
	r, err := Inspect(context.Background(), dir, Options{})
	if err != nil || r.Failed() || r.Arch.Checked || len(r.Findings) != 1 || r.Findings[0].Rule != RuleUnchecked {
		t.Errorf("%v %+v", err, r.Findings)
	}
}

// FuzzArch: any config is read, judged buildable or not, and checked
// against a checkpoint without panicking or running away.
func FuzzArch(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "tiny-vits", "config.json"))
	f.Add(b)
	f.Add([]byte(`{"model": "vits", "model_args": {"num_layers_flow": 3, "upsample_rates_decoder": [2]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Decode(data)
		if err != nil {
			return
		}
		var fs []Finding
		_, va := declared(cfg, &fs)
		if va == nil {
			return
		}
		n, _ := checkVITS(va, map[string]*tensors.Tensor{"x": {Name: "x", Shape: []int64{1}}}, "m.pth")
		if n > 10_000_000 {
			t.Fatalf("%d tensors expected", n)
		}
	})
}

// TestInspectFileWithConfig: a single checkpoint is checked against the
// config given with it.
func TestInspectFileWithConfig(t *testing.T) {
	for dir, fail := range map[string]bool{"tiny-vits": false, "tampered-shape": true} {
		r, err := Inspect(context.Background(), filepath.Join("testdata", dir, "model.pth"),
			Options{Config: filepath.Join("testdata", "tiny-vits", "config.json")})
		if err != nil {
			t.Fatal(err)
		}
		if r.Arch == nil || !r.Arch.Checked || r.Failed() != fail || r.Model != "model.pth" {
			t.Errorf("%s: %+v %v", dir, r.Arch, r.Findings)
		}
	}
}
