package pull

import "github.com/ttsguard/ttsguard/internal/policy"

// builtinRequires are the Hugging Face repositories that coqui's catalog
// models load when they start (coqui-tts 0.28, transformers 4.x and 5.x),
// by coqui id: what `pull` pulls along with the model and `run` gives to the
// command as an offline cache when the policy has no models.NAME.requires.
// Each lists only the files the loader reads:
//
//   - Bark (TTS/tts/models/bark.py, Bark.__init__):
//     BertTokenizer.from_pretrained("bert-base-multilingual-cased") reads
//     vocab.txt, tokenizer_config.json and the optional special_tokens_map.json,
//     added_tokens.json, tokenizer.json (the repository is
//     google-bert/bert-base-multilingual-cased; the Hub redirects the legacy
//     id, and the cache folder is named by the id asked for);
//     EncodecModel.from_pretrained("facebook/encodec_24khz") reads config.json
//     and model.safetensors; AutoProcessor.from_pretrained of the same reads
//     preprocessor_config.json (and config.json).
//
// Not at start, so not here (docs/policy.md says how to add them):
// Bark's voice cloning (a speaker_wav) loads facebook/hubert-base-ls960
// (HubertModel) and GitMylo/bark-voice-cloning's quantifier into the model
// folder; Tortoise with enable_redaction (off by default) loads three
// wav2vec2 repositories; Tortoise's classify_audio_clip (never called by
// coqui) jbetker/tortoise-tts-v2's .models/classifier.pth. XTTS and OpenVoice
// load nothing at start.
var builtinRequires = map[string][]policy.Requirement{
	"tts_models/multilingual/multi-dataset/bark": {
		{
			Source: "hf://google-bert/bert-base-multilingual-cased", Name: "google-bert/bert-base-multilingual-cased",
			LoadAs: "bert-base-multilingual-cased",
			Allow:  []string{"config.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt", "special_tokens_map.json", "added_tokens.json"},
		},
		{
			Source: "hf://facebook/encodec_24khz", Name: "facebook/encodec_24khz", LoadAs: "facebook/encodec_24khz",
			Allow: []string{"config.json", "preprocessor_config.json", "model.safetensors"},
		},
	},
}
