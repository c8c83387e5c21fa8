package dstest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Dataset is one generated dataset and what an audit must find in it.
type Dataset struct {
	Name      string
	Formatter string
	MetaFile  string            // "" for the formatter's default
	Config    string            // a coqui config.json, "" for none
	Files     map[string][]byte // relative to the dataset root
	Dirs      []string          // empty folders
	Links     map[string]string // link path -> target
	Outside   map[string][]byte // relative to the folder that holds the dataset
	// Want lists "rule@key" for every finding at or above low, where key
	// is the clip id, else "FILE:LINE", else "FILE". Empty: clean.
	Want []string
}

// Write creates the dataset under dir/d.Name and returns its root.
func (d *Dataset) Write(dir string) (string, error) {
	root := filepath.Join(dir, d.Name)
	write := func(base string, files map[string][]byte) error {
		for _, name := range slices.Sorted(maps.Keys(files)) {
			p := filepath.Join(base, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, files[name], 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(root, d.Files); err != nil {
		return "", err
	}
	if err := write(dir, d.Outside); err != nil {
		return "", err
	}
	for _, name := range d.Dirs {
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			return "", err
		}
	}
	for name, target := range d.Links {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return "", err
		}
	}
	if d.Config != "" {
		if err := os.WriteFile(filepath.Join(dir, d.Name+".config.json"), []byte(d.Config), 0o644); err != nil {
			return "", err
		}
	}
	return root, nil
}

// Row is one transcript and its recording.
type Row struct {
	ID, Text string
	Clip     Clip
	Audio    []byte // nil: synthesized from Clip
}

// Sentences are the transcripts of the base datasets, shortest to longest.
var Sentences = []string{
	"Nobody knew why.",
	"The ship left at dawn.",
	"Printing, in the only sense.",
	"He kept the letter, unopened.",
	"A small dog barked at the gate.",
	"They walked along the quiet river bank.",
	"The committee met twice during the winter.",
	"She wrote down every word the witness said.",
	"Rain fell steadily over the hills all night long.",
	"The old clock in the hall struck nine, then stopped.",
	"Nobody in the village remembered the name of the painter.",
	"It was the best of times, and the prisoners knew it well.",
}

var cache sync.Map // Clip -> []byte

// Encode returns the WAV bytes of a clip, cached: the same clip in many
// datasets is synthesized once.
func Encode(c Clip) []byte {
	if b, ok := cache.Load(c); ok {
		return b.([]byte)
	}
	var b []byte
	if c.FLAC {
		b = c.FLACBytes(c.Samples())
	} else {
		b = c.WAV(c.Samples())
	}
	cache.Store(c, b)
	return b
}

// Base returns n rows (at most len(Sentences)) with ids PREFIX0001...
func Base(prefix string, n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		seed := uint64(i + 1)
		text := Sentences[i%len(Sentences)]
		rows[i] = Row{ID: fmt.Sprintf("%s%04d", prefix, i+1), Text: text,
			Clip: Clip{Seconds: SpeechSeconds(text, seed), Seed: seed, F0: 110 + float64(i%5)*7}}
	}
	return rows
}

func (r Row) bytes() []byte {
	if r.Audio != nil {
		return r.Audio
	}
	return Encode(r.Clip)
}

// LJSpeech lays rows out as an ljspeech dataset: metadata.csv with
// ID|TEXT|TEXT lines and wavs/ID.wav.
func LJSpeech(name string, rows []Row) *Dataset {
	d := &Dataset{Name: name, Formatter: "ljspeech", Files: map[string][]byte{}}
	var meta strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&meta, "%s|%s|%s\n", r.ID, r.Text, r.Text)
		d.Files["wavs/"+r.ID+".wav"] = r.bytes()
	}
	d.Files["metadata.csv"] = []byte(meta.String())
	return d
}

// Coqui lays rows out in the coqui format with a speaker column.
func Coqui(name string, rows []Row) *Dataset {
	d := &Dataset{Name: name, Formatter: "coqui", Files: map[string][]byte{}}
	meta := "audio_file|text|speaker_name\n"
	for i, r := range rows {
		p := fmt.Sprintf("wavs/spk%d/%s.wav", i%2, r.ID)
		meta += fmt.Sprintf("%s|%s|spk%d\n", p, r.Text, i%2)
		d.Files[p] = r.bytes()
	}
	d.Files["metadata.csv"] = []byte(meta)
	return d
}

// LibriTTS lays rows out as SPEAKER/CHAPTER/ID.wav with a trans.tsv each.
func LibriTTS(name string, rows []Row) *Dataset {
	d := &Dataset{Name: name, Formatter: "libri_tts", Files: map[string][]byte{}}
	tsv := map[string]string{}
	for i, r := range rows {
		spk, ch := 19+i%2, 198
		id := fmt.Sprintf("%d_%d_%06d_000000", spk, ch, i)
		dir := fmt.Sprintf("%d/%d/", spk, ch)
		tsv[dir+fmt.Sprintf("%d_%d.trans.tsv", spk, ch)] += fmt.Sprintf("%s\t%s\t%s\n", id, r.Text, r.Text)
		d.Files[dir+id+".wav"] = r.bytes()
	}
	for p, s := range tsv {
		d.Files[p] = []byte(s)
	}
	return d
}

// Mailabs lays rows out under by_book/female/anna/book/.
func Mailabs(name string, rows []Row) *Dataset {
	d := &Dataset{Name: name, Formatter: "mailabs", Files: map[string][]byte{}}
	dir := "by_book/female/anna/book/"
	var meta strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&meta, "%s|%s|%s\n", r.ID, r.Text, r.Text)
		d.Files[dir+"wavs/"+r.ID+".wav"] = r.bytes()
	}
	d.Files[dir+"metadata.csv"] = []byte(meta.String())
	return d
}

// VCTKOld lays rows out as txt/p225/ID.txt and wav48/p225/ID.wav.
func VCTKOld(name string, rows []Row) *Dataset {
	d := &Dataset{Name: name, Formatter: "vctk_old", Files: map[string][]byte{}}
	for i, r := range rows {
		spk := fmt.Sprintf("p%d", 225+i%2)
		d.Files[fmt.Sprintf("txt/%s/%s.txt", spk, r.ID)] = []byte(r.Text + "\n")
		d.Files[fmt.Sprintf("wav48/%s/%s.wav", spk, r.ID)] = r.bytes()
	}
	return d
}

// VCTK lays rows out as VCTK 0.92: txt/p225/ID.txt and
// wav48_silence_trimmed/p225/ID_mic1.flac (every clip encoded as FLAC).
func VCTK(name string, rows []Row) *Dataset {
	d := &Dataset{Name: name, Formatter: "vctk", Files: map[string][]byte{}}
	for i, r := range rows {
		spk := fmt.Sprintf("p%d", 225+i%2)
		d.Files[fmt.Sprintf("txt/%s/%s.txt", spk, r.ID)] = []byte(r.Text + "\n")
		if r.Audio == nil {
			r.Clip.FLAC = true
		}
		d.Files[fmt.Sprintf("wav48_silence_trimmed/%s/%s_mic1.flac", spk, r.ID)] = r.bytes()
	}
	return d
}

// CommonVoice lays rows out as validated.tsv and clips/ID.wav.
func CommonVoice(name string, rows []Row) *Dataset {
	d := &Dataset{Name: name, Formatter: "common_voice", Files: map[string][]byte{}}
	meta := "client_id\tpath\tsentence\tup_votes\tdown_votes\n"
	for i, r := range rows {
		meta += fmt.Sprintf("c%d\t%s.wav\t%s\t2\t0\n", i%3, r.ID, r.Text)
		d.Files["clips/"+r.ID+".wav"] = r.bytes()
	}
	d.Files["validated.tsv"] = []byte(meta)
	return d
}
