package scan

import "testing"

// TestGradeEffects (issue 16): a global that reads or writes files, opens
// sockets, runs code or imports by a dotted name is critical whatever module
// it lives in; harmless neighbours are not raised with it.
func TestGradeEffects(t *testing.T) {
	for _, c := range []struct {
		module, name string
		want         Severity
	}{
		{"torch.storage", "UntypedStorage.from_file", Critical}, {"torch", "from_file", Critical},
		{"numpy", "ndarray.tofile", Critical}, {"numpy", "fromfile", Critical}, {"numpy", "memmap", Critical},
		{"coqpit.coqpit", "Coqpit.load_json", Critical}, {"TTS.config", "load_config", Critical},
		{"TTS.utils.audio.processor", "AudioProcessor", Critical}, {"TTS.tts.utils.speakers", "SpeakerManager", Critical},
		{"hydra.utils", "instantiate", Critical}, {"werkzeug.utils", "import_string", Critical},
		{"TTS.utils.generic_utils", "import_class", Critical}, {"mylib", "get_class", Critical},
		{"builtins", "open", Critical}, {"io", "open", Critical}, {"socket", "create_connection", Critical},
		{"shutil", "rmtree", Critical}, {"pathlib", "Path", Critical}, {"fsspec", "open", Critical},
		{"transformers", "AutoModel.from_pretrained", Critical},
		{"io", "BytesIO", High}, {"mylib.layers", "Conv", Medium}, {"TTS.config.shared_configs", "BaseAudioConfig", Medium},
		{"collections", "OrderedDict", Medium},
	} {
		if got, why := Grade(c.module, c.name); got != c.want {
			t.Errorf("Grade(%s.%s) = %s (%s), want %s", c.module, c.name, got, why, c.want)
		}
	}
	if _, err := NewPolicy(ProfileCoqui, []string{"numpy.ndarray.tofile"}); err == nil {
		t.Error("a policy allowed ndarray.tofile")
	}
	if _, err := NewPolicy(ProfileCoqui, []string{"TTS.config.shared_configs.BaseAudioConfig"}); err != nil {
		t.Errorf("a config class that loads nothing cannot be allowed: %v", err)
	}
}
