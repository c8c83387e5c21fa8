package dataset

import (
	"strings"
	"testing"
)

// TestReadConfigPythonJSON: a config as coqui's save_json writes it
// (Infinity, NaN) and with the comments coqui's load_config strips reads.
func TestReadConfigPythonJSON(t *testing.T) {
	c, err := ReadConfig(strings.NewReader(`{"max_audio_len": Infinity, "min_audio_len": -Infinity, "x": [NaN],
		// a comment coqui's fallback strips
		"datasets": [{"formatter": "ljspeech", "path": "/data/ljs", "meta_file_train": "metadata.csv"}],
		"audio": {"sample_rate": 22050}, "text_cleaner": "english_cleaners"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Datasets) != 1 || c.Datasets[0].Path != "/data/ljs" || c.Datasets[0].MetaFileTrain != "metadata.csv" || c.Audio.SampleRate != 22050 || c.TextCleaner != "english_cleaners" {
		t.Errorf("%+v", c)
	}
	if _, err := ReadConfig(strings.NewReader(`{"datasets": "ljs"}`)); err == nil {
		t.Error("datasets: a string read")
	}
	if _, err := ReadConfig(strings.NewReader(`{"a": `)); err == nil {
		t.Error("truncated config read")
	}
}
