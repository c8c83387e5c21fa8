package pull

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/coqui"
	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// catalogRepos are the 17 repositories coqui-tts 0.28's catalog names by
// repo_id.
var catalogRepos = []string{
	"tts-hub/XTTS-v2", "tts-hub/XTTS-v1", "erogol/bark", "tts-hub/tacotron2-en-ek1", "tts-hub/tacotron2_dca-en-ljspeech",
	"tts-hub/tacotron2_dca-en-sam", "jbetker/tortoise-tts-v2", "tts-hub/tacotron2_ddc-es-mai", "tts-hub/tacotron2_ddc-fr-mai",
	"tts-hub/tacotron2_ddc_gst-zh-baker", "tts-hub/tacotron2_ddc-flemish-rdh", "tts-hub/tacotron2_dca-de-thorsten",
	"tts-hub/tacotron2_ddc-ja-kokoro", "daremc86/sr-cv-vits", "Kamtera/persian-tts-female-vits", "myshell-ai/OpenVoice",
	"myshell-ai/OpenVoiceV2",
}

// TestDefaultPolicyCoversCatalogRepos: the default policy lets through every
// URL a pull of each repository touches on huggingface.co (API, resolve,
// resolve cache, the CDN hosts the Hub redirects to), and not another
// user's repository.
func TestDefaultPolicyCoversCatalogRepos(t *testing.T) {
	pol := policy.Default()
	repos := catalogRepos
	if path, err := coqui.FindInstalledCatalog(); err == nil { // and whatever the installed catalog names
		c, err := coqui.LoadCatalog(path)
		must(t, err)
		for _, id := range c.IDs() {
			if e, _ := c.Resolve(id); e != nil && e.Hub != nil {
				repos = append(repos, e.Hub.RepoID)
			}
		}
	}
	hc, err := hub.New(hub.Options{Endpoint: hub.DefaultEndpoint, TLS: &tls.Config{}, Check: pol})
	must(t, err)
	const commit = "0123456789abcdef0123456789abcdef01234567"
	for _, repo := range repos {
		for _, raw := range []string{
			hub.DefaultEndpoint + "/api/models/" + repo + "/revision/main",
			hub.DefaultEndpoint + "/api/models/" + repo + "/tree/" + commit + "?recursive=true&expand=false",
			hc.ResolveURL(repo, commit, "sub dir/model.pth"),
			hub.DefaultEndpoint + "/api/resolve-cache/models/" + repo + "/" + commit + "/config.json?etag=%22x%22",
			"https://cas-bridge.xethub.hf.co/xet-bridge-us/abc/def?X-Amz-Signature=x",
			"https://cdn-lfs.hf.co/repos/ab/cd/abcd?X-Amz-Signature=x",
		} {
			if err := pol.AllowURLString(raw); err != nil {
				t.Errorf("%s: %v", repo, err)
			}
		}
	}
	for _, raw := range []string{
		"https://huggingface.co/api/models/someone/else/revision/main",
		"https://huggingface.co/someone/else/resolve/main/model.pth",
		"https://huggingface.co/jbetker/another-repo/resolve/main/model.pth",
		"https://huggingface.co/api/models/myshell-ai/OpenVoiceV3/revision/main",
	} {
		if err := pol.AllowURLString(raw); !errors.Is(err, policy.ErrNotAllowed) {
			t.Errorf("%s: allowed", raw)
		}
	}
}

// TestPolicyHubSource: models.NAME.source takes hf://OWNER/REPO[@REVISION],
// checked for its form when the policy loads.
func TestPolicyHubSource(t *testing.T) {
	tests := []struct {
		source, err string
	}{
		{"hf://tts-hub/XTTS-v2", ""},
		{"hf://tts-hub/XTTS-v2@v2.0.3", ""},
		{"hf://XTTS-v2", `models["voice"].source`},
		{"hf://datasets/a/b", "only model repositories"},
		{"hf://a/b@../x", `revision "../x"`},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "ttsguard.yaml")
		must(t, os.WriteFile(p, []byte("version: 1\nmodels:\n  voice:\n    source: "+tt.source+"\n"), 0o600))
		pol, err := policy.Load(p)
		if tt.err == "" {
			if err != nil || pol.Models["voice"].Source != tt.source {
				t.Errorf("%s: %v", tt.source, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: got %v, want %q", tt.source, err, tt.err)
		}
	}
}
