package inspect

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/tensors"
)

// Arch is the architecture a coqui config declares.
type Arch struct {
	Model string `json:"model"` // config.json "model"
	// Sizes are the config values that set tensor shapes (defaults filled
	// in), in the order of the model's arguments.
	Sizes []Size `json:"sizes,omitempty"`
	// Checked says whether ttsguard knows the model's layers (only "vits"
	// today); Expected is the number of tensors the config gives it.
	Checked  bool `json:"checked"`
	Expected int  `json:"expected_tensors,omitempty"`
}

// Size is one config value.
type Size struct {
	Key   string `json:"key"`
	Value string `json:"value"` // JSON text
}

// Finding rules.
const (
	RuleMissing   = "arch/missing-tensor"   // a tensor the config's model has and the checkpoint lacks
	RuleExtra     = "arch/extra-tensor"     // a tensor the config's model does not have
	RuleShape     = "arch/shape-mismatch"   // a shape the config cannot produce
	RuleConfig    = "arch/config"           // a config value the model cannot be built from
	RuleUnchecked = "arch/unchecked"        // a model type without rules here
	RuleIgnored   = "arch/ignored-tensor"   // a tensor coqui's loader drops before loading
	RuleUnread    = "checkpoint/unreadable" // a checkpoint (or a tensor) that cannot be read
)

// declared reads the architecture a config declares; for vits also its
// arguments. A config value of the wrong type is a finding.
func declared(cfg map[string]any, fs *[]Finding) (*Arch, *vitsArgs) {
	a := &Arch{}
	model, _ := cfg["model"].(string)
	a.Model = model
	if model != "vits" {
		*fs = append(*fs, Finding{Rule: RuleUnchecked, Severity: scan.Info,
			Message: fmt.Sprintf("no architecture rules for model %q: its tensors are listed, not checked against the config", model)})
		return a, nil
	}
	args, _ := cfg["model_args"].(map[string]any)
	if _, ok := cfg["model_args"]; ok && args == nil {
		*fs = append(*fs, Finding{Rule: RuleConfig, Severity: scan.Medium, Message: "model_args is not an object"})
		return a, nil
	}
	var va vitsArgs
	v := reflect.ValueOf(&va).Elem()
	ok := true
	for i := range v.NumField() {
		f := v.Type().Field(i)
		key := f.Tag.Get("arg")
		raw, given := args[key]
		if !given || raw == nil {
			raw = defaultOf(f)
		}
		if err := setField(v.Field(i), raw); err != nil {
			*fs = append(*fs, Finding{Rule: RuleConfig, Severity: scan.Medium, Field: "model_args." + key, Message: fmt.Sprintf("model_args.%s: %v", key, err)})
			ok = false
			continue
		}
		b, _ := json.Marshal(v.Field(i).Interface())
		a.Sizes = append(a.Sizes, Size{Key: "model_args." + key, Value: string(b)})
	}
	if !ok {
		return a, nil
	}
	return a, &va
}

// defaultOf decodes a field's def tag ("3,7,11"; "1 3 5,1 3 5").
func defaultOf(f reflect.StructField) any {
	d := f.Tag.Get("def")
	switch f.Type.Kind() {
	case reflect.Bool:
		return d == "true"
	case reflect.String:
		return d
	case reflect.Int64:
		n, _ := strconv.ParseFloat(d, 64)
		return n
	}
	var list []any
	for _, part := range strings.Split(d, ",") {
		if f.Type.Elem().Kind() == reflect.Slice {
			var inner []any
			for _, x := range strings.Fields(part) {
				n, _ := strconv.ParseFloat(x, 64)
				inner = append(inner, n)
			}
			list = append(list, inner)
			continue
		}
		n, _ := strconv.ParseFloat(part, 64)
		list = append(list, n)
	}
	return list
}

// setField sets v from a decoded JSON value of the field's type.
func setField(v reflect.Value, raw any) error {
	switch v.Kind() {
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return fmt.Errorf("want true or false, got %s", jsonText(raw))
		}
		v.SetBool(b)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("want a string, got %s", jsonText(raw))
		}
		v.SetString(s)
	case reflect.Int64:
		n, err := integer(raw)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok || len(items) > 64 {
			return fmt.Errorf("want a list (of at most 64 items), got %s", jsonText(raw))
		}
		out := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := setField(out.Index(i), it); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		v.Set(out)
	}
	return nil
}

// integer accepts a JSON number that is a whole number in [0, 2^31).
func integer(raw any) (int64, error) {
	f, ok := raw.(float64)
	if !ok || f != math.Trunc(f) || f < 0 || f >= 1<<31 {
		return 0, fmt.Errorf("want a non-negative integer, got %s", jsonText(raw))
	}
	return int64(f), nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// maxLayers bounds the layer counts a config may ask the rules to list.
const maxLayers = 1000

// buildable returns why Vits(config) cannot be built from a ("" when it can):
// the assertions of its layers.
func (a *vitsArgs) buildable(l int64) string {
	switch {
	case max(a.NumLayersText, a.NumLayersPosterior, a.NumLayersFlow) > maxLayers:
		return fmt.Sprintf("more than %d layers: not checked", maxLayers)
	case a.HiddenChannels == 0 || a.HiddenChannels%2 != 0:
		return fmt.Sprintf("hidden_channels %d is not a positive even number (WN and ResidualCouplingBlock assert it)", a.HiddenChannels)
	case a.NumHeads == 0 || (a.HiddenChannels+l)%a.NumHeads != 0:
		return fmt.Sprintf("hidden_channels (+ the language embedding) %d is not divisible by num_heads_text_encoder %d", a.HiddenChannels+l, a.NumHeads)
	case a.KernelPosterior%2 != 1 || a.KernelFlow%2 != 1:
		return "kernel_size_posterior_encoder and kernel_size_flow must be odd (WN asserts it)"
	case min(len(a.UpsampleRates), len(a.UpsampleKernels)) == 0:
		return "no upsampling layers (upsample_rates_decoder, upsample_kernel_sizes_decoder)"
	}
	for _, d := range a.ResblockDilations {
		if len(d) < 3 && a.ResblockType == "1" || len(d) < 2 {
			return fmt.Sprintf("resblock_dilation_sizes_decoder item %v is too short for resblock type %q", d, a.ResblockType)
		}
	}
	return ""
}

// checkVITS compares a checkpoint's weights with the state dict of
// Vits(config). The rows of the text embedding (the tokenizer's symbols),
// of emb_g (the speakers) and emb_l (the languages) are not set by the
// config alone and are not checked.
func checkVITS(a *vitsArgs, weights map[string]*tensors.Tensor, file string) (int, []Finding) {
	var fs []Finding
	add := func(rule string, sev scan.Severity, tensor, format string, args ...any) {
		fs = append(fs, Finding{Rule: rule, Severity: sev, File: file, Tensor: tensor, Message: fmt.Sprintf(format, args...)})
	}
	var g, l, speakers, languages int64
	switch {
	case a.UseDVectorFile:
		g = a.DVectorDim
	case a.UseSpeakerEmbedding && weights["emb_g.weight"] != nil:
		g, speakers = a.SpeakerChannels, -1
	}
	if a.UseLanguageEmbedding && weights["emb_l.weight"] != nil {
		l, languages = a.EmbeddedLanguageDim, -1
	}
	if why := a.buildable(l); why != "" {
		add(RuleConfig, scan.Medium, "", "the config cannot build a VITS model: %s", why)
		return 0, fs
	}
	e := vits(*a, g, l, speakers, languages)
	used := map[string]bool{}
	want := func(name string, shape []int64) {
		t := weights[name]
		if t == nil {
			add(RuleMissing, scan.Medium, name, "the config's VITS model has %s %v; the checkpoint does not", name, shape)
			return
		}
		used[name] = true
		if !sameShape(t.Shape, shape) {
			add(RuleShape, scan.High, name, "shape %v, the config gives %v", t.Shape, shape)
		}
	}
	n := 0
	for _, name := range e.order {
		shape := e.shapes[name]
		base := strings.TrimSuffix(name, ".weight")
		switch e.norms[name] {
		case plain:
			want(name, shape)
			n++
		case weightN:
			g := append([]int64{shape[0]}, slices.Repeat([]int64{1}, len(shape)-1)...)
			if weights[base+".weight_g"] != nil || weights[base+".weight_v"] != nil {
				want(base+".weight_g", g)
				want(base+".weight_v", shape)
			} else {
				want(base+".parametrizations.weight.original0", g)
				want(base+".parametrizations.weight.original1", shape)
			}
			n += 2
		case spectral:
			rest := int64(1)
			for _, d := range shape[1:] {
				rest *= d
			}
			want(base+".weight_orig", shape)
			want(base+".weight_u", []int64{shape[0]})
			want(base+".weight_v", []int64{rest})
			n += 3
		}
	}
	var extra []string
	for name := range weights {
		if !used[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		if strings.Contains(name, "speaker_encoder") {
			add(RuleIgnored, scan.Info, name, "coqui's VITS loader drops keys containing \"speaker_encoder\" before loading")
			continue
		}
		add(RuleExtra, scan.High, name, "not a tensor of the config's VITS model (shape %v): coqui's strict load refuses it, other loaders may not", weights[name].Shape)
	}
	return n, fs
}

// sameShape compares a shape with an expected one, -1 matching any size.
func sameShape(got, want []int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if want[i] != -1 && got[i] != want[i] {
			return false
		}
	}
	return true
}
