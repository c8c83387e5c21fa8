package dataset

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/ttsguard/ttsguard/internal/scan/config"
)

// MaxConfigBytes caps the coqui training config read into memory.
const MaxConfigBytes = 16 << 20

// Config is what an audit takes from a coqui training config.json.
type Config struct {
	Datasets []struct {
		Formatter     string `json:"formatter"`
		Path          string `json:"path"`
		MetaFileTrain string `json:"meta_file_train"`
		MetaFileVal   string `json:"meta_file_val"`
		Language      string `json:"language"`
	} `json:"datasets"`
	Audio struct {
		SampleRate int  `json:"sample_rate"`
		Resample   bool `json:"resample"`
	} `json:"audio"`
	Characters *struct {
		Characters   string `json:"characters"`
		Punctuations string `json:"punctuations"`
	} `json:"characters"`
	UsePhonemes bool   `json:"use_phonemes"`
	TextCleaner string `json:"text_cleaner"`
}

// ReadConfig parses a coqui config.json (at most MaxConfigBytes).
func ReadConfig(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("config larger than %d bytes", MaxConfigBytes)
	}
	// Read as coqui's load_config reads it: Python's json (coqui's own
	// configs hold max_audio_len: Infinity) and its comment fallback.
	obj, err := config.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("coqui config: %w", err)
	}
	if data, err = json.Marshal(finite(obj)); err != nil {
		return nil, fmt.Errorf("coqui config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("coqui config: %w", err)
	}
	return &c, nil
}

// finite replaces the NaN and infinite numbers of a decoded config with
// nil (JSON has none; no field Config reads holds one).
func finite(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = finite(e)
		}
	case []any:
		for i, e := range t {
			t[i] = finite(e)
		}
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil
		}
	}
	return v
}

// Charset is the set of characters the config's tokenizer keeps, or nil
// when the config has none or trains on phonemes (then the transcript is
// converted before the set applies).
func (c *Config) Charset() map[rune]bool {
	if c == nil || c.Characters == nil || c.UsePhonemes || c.Characters.Characters == "" {
		return nil
	}
	set := map[rune]bool{}
	for _, r := range c.Characters.Characters + c.Characters.Punctuations {
		set[r] = true
	}
	return set
}
