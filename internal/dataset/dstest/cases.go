package dstest

import (
	"bytes"
	"fmt"
	"strings"
)

// edit replaces the first old with new in one file of d (old must occur).
func (d *Dataset) edit(file, old, new string) *Dataset {
	s := string(d.Files[file])
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("dstest: %s has no %q", file, old))
	}
	d.Files[file] = []byte(strings.Replace(s, old, new, 1))
	return d
}

func (d *Dataset) want(w ...string) *Dataset { d.Want = append(d.Want, w...); return d }

// rate sets every clip's sample rate.
func rate(hz int) func([]Row) {
	return func(r []Row) {
		for i := range r {
			r[i].Clip.Rate = hz
		}
	}
}

func lj(n int, mut func([]Row)) []Row {
	rows := Base("LJ001-", n)
	if mut != nil {
		mut(rows)
	}
	return rows
}

// Config is a coqui training config for the ljspeech cases.
const Config = `{"datasets": [{"formatter": "ljspeech", "path": "", "meta_file_train": "metadata.csv", "language": "en"}],
 "audio": {"sample_rate": 16000}, "use_phonemes": false, "text_cleaner": "basic_cleaners",
 "characters": {"characters": "abcdefghijklmnopqrstuvwxyz", "punctuations": "!'(),-.:;? "}}`

// Multilingual are transcripts a clean multilingual corpus holds: joiners
// inside Persian and Indic words, emoji sequences, several scripts side by
// side (never inside one word).
var Multilingual = []string{
	"می‌خواهم به خانه بروم.",
	"मैं घर जाना चाहता हूँ, क्षमा करें।",
	"Мы пошли домой вечером.",
	"Το πλοίο έφυγε την αυγή.",
	"Grüße aus München, sagte er.",
	"The word Москва means Moscow 👩‍💻.",
	"東京へ行きました。",
	"Nobody knew why.",
	"Nobody knew why.", // the same sentence read twice
	"C'est déjà l'été à Paris.",
	"Ein Fuß, zwei Füße.",
	"Ὁ λόγος ἦν ἀρχῇ.",
}

// Corpus returns every generated dataset: the clean ones first.
func Corpus() []*Dataset {
	clean := []*Dataset{
		LJSpeech("clean-ljspeech", lj(12, nil)),
		Coqui("clean-coqui", lj(12, nil)),
		LibriTTS("clean-libri_tts", lj(12, nil)),
		Mailabs("clean-mailabs", lj(12, nil)),
		VCTKOld("clean-vctk_old", lj(12, nil)),
		VCTK("clean-vctk", lj(12, nil)),
		CommonVoice("clean-common_voice", lj(12, nil)),
		LJSpeech("clean-multilingual", lj(12, func(r []Row) {
			for i := range r {
				r[i].Text = Multilingual[i]
				r[i].Clip.Seconds = SpeechSeconds(r[i].Text, r[i].Clip.Seed)
			}
		})),
	}
	clean = append(clean, LJSpeech("clean-44k", lj(12, rate(44100))), LJSpeech("clean-48k-float", lj(12, func(r []Row) {
		rate(48000)(r)
		for i := range r {
			r[i].Clip.Float = true
		}
	})))
	cfg := LJSpeech("clean-config", lj(12, nil))
	cfg.Config = Config
	clean = append(clean, cfg)
	return append(clean, poisoned()...)
}

func poisoned() []*Dataset {
	m := "metadata.csv"
	var out []*Dataset
	add := func(d *Dataset) { out = append(out, d) }

	add(LJSpeech("path-escape", lj(12, nil)).
		edit(m, "LJ001-0003|", "../../secret|").edit(m, "LJ001-0007|", "/etc/hostname|").
		want("meta/path-escape@../../secret", "meta/path-escape@/etc/hostname"))
	d := LJSpeech("path-traversal", lj(12, nil)).edit(m, "LJ001-0005|", "../extra/LJ001-0005|")
	d.Files["extra/LJ001-0005.wav"] = d.Files["wavs/LJ001-0005.wav"]
	delete(d.Files, "wavs/LJ001-0005.wav")
	add(d.want("meta/path-traversal@../extra/LJ001-0005"))
	d = LJSpeech("symlink", lj(12, nil))
	d.Outside = map[string][]byte{"outside.wav": d.Files["wavs/LJ001-0004.wav"]}
	d.Links = map[string]string{"wavs/LJ001-0004.wav": "../../outside.wav"}
	add(d.want("meta/symlink@LJ001-0004"))
	d = LJSpeech("missing-audio", lj(12, nil))
	delete(d.Files, "wavs/LJ001-0006.wav")
	add(d.want("audio/missing@LJ001-0006"))
	d = LJSpeech("not-regular", lj(12, nil))
	delete(d.Files, "wavs/LJ001-0006.wav")
	d.Dirs = []string{"wavs/LJ001-0006.wav"}
	add(d.want("audio/not-regular@LJ001-0006"))
	d = LJSpeech("unreadable-audio", lj(12, nil))
	d.Files["wavs/LJ001-0008.wav"] = []byte("this is not audio at all\n")
	add(d.want("audio/unreadable@LJ001-0008"))

	add(LJSpeech("terminal-escape", lj(12, nil)).
		edit(m, "|The ship left at dawn.\n", "|The ship \x1b[8mleft\x1b[0m at dawn.\n").want("text/terminal-escape@LJ001-0002"))
	add(LJSpeech("control-char", lj(12, nil)).
		edit(m, "|Nobody knew why.\n", "|Nobody\x08 knew why.\n").want("text/control-char@LJ001-0001"))
	add(LJSpeech("bidi-control", lj(12, nil)).
		edit(m, "|A small dog barked at the gate.\n", "|A small dog \u202Ebarked at\u202C the gate.\n").want("text/bidi-control@LJ001-0005"))
	add(LJSpeech("invisible", lj(12, nil)).
		edit(m, "|He kept the letter, unopened.\n", "|He kept the let\u200Bter, unopened.\n").want("text/invisible@LJ001-0004"))
	add(LJSpeech("homoglyph", lj(12, nil)).
		edit(m, "|The committee met twice during the winter.\n", "|The committee met twicе during the winter.\n").want("text/mixed-script@LJ001-0007"))
	d = LJSpeech("out-of-charset", lj(12, nil)).edit(m, "|Nobody knew why.\n", "|Nobody knew whÿ.\n")
	d.Config = Config
	add(d.want("text/out-of-charset@LJ001-0001"))

	// with the config's language (en): a word all in Cyrillic look-alikes
	// of Latin letters, a Russian phrase (not look-alikes: another script)
	d = LJSpeech("homoglyph-word", lj(12, nil)).
		edit(m, "|A small dog barked at the gate.\n", "|\u0410 small dog barked at the gate.\n").
		edit(m, "prisoners knew it well.\n", "prisoners, сказал он.\n")
	d.Config = strings.Replace(Config, `"characters": "abcdefghijklmnopqrstuvwxyz"`, `"characters": "abcdefghijklmnopqrstuvwxyzабвгдежзийклмнопрстуфхцчшщъыьэюя"`, 1)
	add(d.want("text/homoglyph-word@LJ001-0005", "text/out-of-script@LJ001-0012"))
	add(LJSpeech("lone-cr", lj(12, nil)).
		edit(m, "|Nobody knew why.\nLJ001-0002|The ship left at dawn.|", "|Nobody knew why.\rLJ001-0002|The ship left at dawn.|").
		want("meta/line-break@metadata.csv:1", "meta/line-break@metadata.csv:2"))
	add(LJSpeech("unicode-line-separator", lj(12, nil)).
		edit(m, "|Printing, in the only sense.\n", "|Printing,\u2028in the only sense.\n").want("meta/line-break@metadata.csv:3"))
	add(LJSpeech("bad-utf8", lj(12, nil)).
		edit(m, "|The ship left at dawn.\n", "|The ship left at d\xe1wn.\n").want("meta/encoding@metadata.csv:2"))
	add(LJSpeech("extra-columns", lj(12, nil)).
		edit(m, "|A small dog barked at the gate.\n", "|A small dog barked at the gate.|A cat barked at the gate.\n").want("meta/extra-columns@LJ001-0005"))
	d = LJSpeech("short-row", lj(12, nil)).edit(m, "LJ001-0009|Rain fell steadily over the hills all night long.|", "LJ001-0009|")
	add(d.want("meta/short-row@metadata.csv:9"))

	d = Coqui("coqui-quoted-newline", lj(12, nil)).
		edit(m, "|Nobody knew why.|", "|\"Nobody knew why.\nwavs/spk1/LJ001-0002.wav|The ship left at dawn.\"|")
	// the joined transcript no longer fits the first clip's audio
	add(d.want("meta/line-break@metadata.csv:2", "label/rate-outlier@wavs/spk0/LJ001-0001.wav"))
	d = Coqui("coqui-duplicate-column", lj(12, nil))
	meta := "audio_file|text|speaker_name|text\n"
	for i, line := range strings.Split(strings.TrimSpace(string(d.Files[m])), "\n")[1:] {
		text := Sentences[i]
		if i == 2 { // a reader that takes the first text column sees the benign one
			text = "Printing, in the only tense."
		}
		meta += line + "|" + text + "\n"
	}
	d.Files[m] = []byte(meta)
	add(d.want("meta/duplicate-column@metadata.csv:1"))
	add(Coqui("coqui-split-differs", lj(12, nil)).edit(m, "|Printing, in the only sense.|", "|\"Printing, in the|only sense.\"|").
		want("meta/split-differs@metadata.csv:4"))
	add(Coqui("coqui-header", lj(12, nil)).edit(m, "audio_file|text|", "audio_file|transcript|").
		want("meta/header@metadata.csv:1"))

	add(LJSpeech("header-lie", lj(12, func(r []Row) {
		b := append([]byte(nil), Encode(r[3].Clip)...)
		b[4] += 100
		r[3].Audio = b
	})).want("audio/header-lie@LJ001-0004"))
	d = LJSpeech("sample-rate", lj(12, func(r []Row) { r[5].Clip.Rate = 22050 }))
	d.Config = Config
	add(d.want("audio/format-mismatch@LJ001-0006", "audio/sample-rate@LJ001-0006"))
	add(LJSpeech("stereo", lj(12, func(r []Row) { r[2].Clip.Channels = 2 })).want("audio/format-mismatch@LJ001-0003"))
	add(LJSpeech("near-silent", lj(12, func(r []Row) { r[2].Clip.Silent = true })).want("audio/near-silent@LJ001-0003"))
	add(LJSpeech("clipping", lj(12, func(r []Row) { r[8].Clip.Gain = 3 })).want("audio/clipping@LJ001-0009"))
	add(LJSpeech("dc-offset", lj(12, func(r []Row) { r[9].Clip.DC = 0.1 })).want("audio/dc-offset@LJ001-0010"))
	add(LJSpeech("empty-audio", lj(12, func(r []Row) { r[1].Clip.Seconds = 0 })).want("audio/empty@LJ001-0002"))
	add(LJSpeech("non-finite", lj(12, func(r []Row) {
		for i := range r {
			r[i].Clip.Float = true
		}
		r[6].Clip.NaN = true
	})).want("audio/non-finite@LJ001-0007"))

	// inaudible triggers: a quiet tone above 16 kHz in one clip for half
	// a second, in another for the whole clip; a tone below 16 kHz is
	// audible and not this rule's
	add(LJSpeech("inaudible-tone", lj(12, func(r []Row) {
		rate(44100)(r)
		r[3].Clip.ToneHz, r[3].Clip.ToneGain, r[3].Clip.ToneStart, r[3].Clip.ToneEnd = 18500, 0.02, 0.5, 1.0
		r[8].Clip.ToneHz, r[8].Clip.ToneGain = 19200, 0.005
		r[5].Clip.ToneHz, r[5].Clip.ToneGain = 9000, 0.01
	})).want("audio/inaudible-tone@LJ001-0004", "audio/inaudible-tone@LJ001-0009"))
	// FLAC: a STREAMINFO whose MD5 does not match the samples; a FLAC
	// clip among WAVs (another format); a FLAC that stops mid-frame
	add(VCTK("flac-header-lie", lj(12, func(r []Row) {
		c := r[4].Clip
		c.FLAC = true
		b := bytes.Clone(Encode(c))
		b[8+18] ^= 0xFF // the first byte of STREAMINFO's MD5
		r[4].Audio = b
	})).want("audio/header-lie@LJ001-0005"))
	d = LJSpeech("flac-among-wav", lj(12, func(r []Row) { r[7].Clip.FLAC = true }))
	add(d.want("audio/format-mismatch@LJ001-0008"))
	add(VCTK("flac-truncated", lj(12, func(r []Row) {
		c := r[2].Clip
		c.FLAC = true
		b := Encode(c)
		r[2].Audio = b[:len(b)-300]
	})).want("audio/unreadable@LJ001-0003"))
	add(LJSpeech("swapped-labels", lj(12, func(r []Row) { r[0].Text, r[11].Text = r[11].Text, r[0].Text })).
		want("label/rate-outlier@LJ001-0001", "label/rate-outlier@LJ001-0012"))
	add(LJSpeech("duplicate-audio", lj(12, func(r []Row) { r[4].Clip = r[3].Clip })).want("label/duplicate-audio@LJ001-0005"))
	// one recording under another transcript, altered: trimmed, quieter
	// with noise, made at 48 kHz and reduced to 16 kHz; and one altered
	// copy under its own transcript (oversampled)
	add(LJSpeech("near-duplicate-audio", lj(12, func(r []Row) {
		r[4].Audio = r[3].Clip.Copy(1, 0.13, 0, 0, 1)
		r[7].Audio = r[6].Clip.Copy(0.5, 0, 0.005, 0, 2)
		r[10].Audio = r[9].Clip.Copy(0.9, 0.05, 0.002, 48000, 3)
	})).want("label/near-duplicate-audio@LJ001-0005", "label/near-duplicate-audio@LJ001-0008", "label/near-duplicate-audio@LJ001-0011"))
	add(LJSpeech("near-duplicate-oversampled", append(lj(12, nil), Row{ID: "LJ001-0013", Text: Sentences[1], Audio: lj(2, nil)[1].Clip.Copy(0.7, 0.1, 0.003, 0, 4)})).
		want("label/near-duplicate-audio@LJ001-0013"))
	// a planted token ("cf", no vowel) in two clips and a letter-digit
	// token ("x7q") in two others; a rare real word ("Gutenberg") and a
	// Roman numeral ("XIV") in two clips each are not triggers
	add(LJSpeech("rare-token", lj(12, nil)).
		edit(m, "|The ship left at dawn.\n", "|The ship cf left at dawn.\n").
		edit(m, "|He kept the letter, unopened.\n", "|He kept cf the letter, unopened.\n").
		edit(m, "|A small dog barked at the gate.\n", "|A small dog x7q barked at the gate.\n").
		edit(m, "|They walked along the quiet river bank.\n", "|They walked along the quiet river bank x7q.\n").
		edit(m, "|Nobody knew why.\n", "|Nobody knew why Gutenberg.\n").
		edit(m, "|Printing, in the only sense.\n", "|Printing, in the only sense, Gutenberg, XIV.\n").
		edit(m, "|The committee met twice during the winter.\n", "|The committee met twice during the winter of XIV.\n").
		want("text/rare-token@LJ001-0002", "text/rare-token@LJ001-0004", "text/rare-token@LJ001-0005", "text/rare-token@LJ001-0006"))
	add(LJSpeech("oversampled", append(lj(12, nil), lj(2, nil)[1])).want("label/oversampled@LJ001-0002"))

	add(LibriTTS("libri_tts-escape", lj(12, nil)).edit("19/198/19_198.trans.tsv", "19_198_000000_000000\t", "..__x\t").
		want("meta/path-escape@..__x"))
	d = VCTKOld("vctk-extra-lines", lj(12, nil))
	d.Files["txt/p226/LJ001-0002.txt"] = []byte("The ship left at dawn.\nSomething else entirely.\n")
	add(d.want("meta/extra-lines@LJ001-0002"))
	d = VCTKOld("vctk-layout", lj(12, nil))
	d.Files["txt/p225/extra/LJ001-0099.txt"] = []byte("Nobody knew why.\n")
	add(d.want("meta/layout@txt/p225/extra/LJ001-0099.txt"))
	return out
}
