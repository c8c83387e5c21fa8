package dataset

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

// TestCommonVoiceMP3: Common Voice's clips are MP3 (coqui 0.28's
// common_voice formatter opens clips/PATH as written; coqui reads it through
// libsndfile): they are decoded and judged like WAV and FLAC. A near-silent
// clip, a clip of another rate and channel count, and one recording under
// two transcripts are found; nothing is left undecoded.
func TestCommonVoiceMP3(t *testing.T) {
	fixture := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("audio", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rows := []dstest.Row{
		{ID: "a", Text: "A tone for a while.", Audio: fixture("tone-mono.mp3")},
		{ID: "b", Text: "The same tone, another label.", Audio: fixture("tone-mono.mp3")},
		{ID: "q", Text: "Almost nothing at all.", Audio: fixture("quiet-16k.mp3")},
		{ID: "s", Text: "A tone in stereo.", Audio: fixture("tone-stereo.mp3")},
	}
	d := dstest.CommonVoice("cv-mp3", rows)
	for _, r := range rows { // clips/ID.mp3, as Common Voice ships them
		d.Files["clips/"+r.ID+".mp3"] = d.Files["clips/"+r.ID+".wav"]
		delete(d.Files, "clips/"+r.ID+".wav")
	}
	meta := string(d.Files["validated.tsv"])
	d.Files["validated.tsv"] = []byte(strings.ReplaceAll(meta, ".wav\t", ".mp3\t"))
	root, err := d.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Audit(context.Background(), os.DirFS(root), root, Options{Formatter: "common_voice", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"audio/format-mismatch@q.mp3", "audio/format-mismatch@s.mp3", "audio/near-silent@q.mp3", "label/duplicate-audio@b.mp3"}
	if got := findingKeys(rep); !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	for _, f := range rep.Findings {
		if f.Rule == "audio/not-decoded" || f.Rule == "audio/unreadable" {
			t.Errorf("%+v", f)
		}
	}
	if rep.Clips != 4 || rep.Majority != "22050 Hz, 1 ch, mp3" {
		t.Errorf("clips %d, majority %q", rep.Clips, rep.Majority)
	}
}
