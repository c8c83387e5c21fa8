package dataset

import (
	"encoding/json"
	"fmt"
	"io"
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
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("coqui config: %w", err)
	}
	return &c, nil
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
