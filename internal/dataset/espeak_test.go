package dataset

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEspeakSpeechClean: real speech (espeak-ng, five voices, varied speed
// and pitch) is clean under the default thresholds at 22,050 Hz as
// espeak-ng writes it, and resampled to 44.1 and 48 kHz with a broadband
// noise floor added (sox). It runs when TTSGUARD_ESPEAK=1 (espeak-ng and
// sox installed: apt-get install espeak-ng sox).
func TestEspeakSpeechClean(t *testing.T) {
	if os.Getenv("TTSGUARD_ESPEAK") != "1" {
		t.Skip("TTSGUARD_ESPEAK=1 runs it (needs espeak-ng and sox)")
	}
	voices := []string{"en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp"}
	texts := []string{
		"Printing, in the only sense with which we are at present concerned, differs from most if not from all the arts.",
		"The earliest book printed with movable types, the Gutenberg, or forty-two line Bible of about 1455.",
		"Now, as all books not primarily intended as picture-books consist principally of types.",
		"It is of the first importance that the letter used should be fine in form.",
		"Especially as no more time is occupied, or cost incurred, in casting beautiful letters.",
		"Than in the same operations with ugly ones.",
		"The forms of printed letters should be beautiful, and their arrangement on the page reasonable.",
		"The first books were printed in black letter, the Gothic development of the Roman character.",
		"Nobody knew why.",
		"Nobody knew why.", // the same sentence read twice, by another voice
		"Rain fell steadily over the hills all night long, and the river rose.",
		"The committee met twice during the winter, then adjourned until spring.",
	}
	dir := t.TempDir()
	for _, rate := range []int{22050, 44100, 48000} {
		root := filepath.Join(dir, fmt.Sprint(rate))
		if err := os.MkdirAll(filepath.Join(root, "wavs"), 0o755); err != nil {
			t.Fatal(err)
		}
		var meta strings.Builder
		for i, text := range texts {
			id := fmt.Sprintf("ES001-%04d", i+1)
			out := filepath.Join(root, "wavs", id+".wav")
			raw := out
			if rate != 22050 {
				raw = filepath.Join(dir, "raw.wav")
			}
			run(t, "espeak-ng", "-v", voices[i%len(voices)], "-s", fmt.Sprint(140+i*7), "-p", fmt.Sprint(30+i*3), "-w", raw, text)
			if rate != 22050 {
				// resample, add white noise at -50 dBFS
				noise := filepath.Join(dir, "noise.wav")
				run(t, "sox", raw, "-r", fmt.Sprint(rate), filepath.Join(dir, "up.wav"))
				run(t, "sox", filepath.Join(dir, "up.wav"), noise, "synth", "whitenoise", "vol", "0.003")
				run(t, "sox", "-m", filepath.Join(dir, "up.wav"), noise, "-b", "16", out)
			}
			fmt.Fprintf(&meta, "%s|%s|%s\n", id, text, text)
		}
		if err := os.WriteFile(filepath.Join(root, "metadata.csv"), []byte(meta.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := Audit(context.Background(), os.DirFS(root), root, Options{Formatter: "ljspeech", Workers: 2, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if keys := findingKeys(rep); len(keys) > 0 || rep.Clips != len(texts) {
			var b strings.Builder
			rep.Text(&b)
			t.Errorf("%d Hz: findings %q\n%s", rate, keys, b.String())
		}
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
