package walk

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// issue16Case is one entry of testdata/issue16/manifest.json, written by
// testdata/gen_issue16.py after the real loaders (torch 2.8, numpy, coqui-tts
// 0.28) were seen to execute the case (a marker file written by the payload)
// or to open a URL through fsspec; benign cases were seen to load quietly.
type issue16Case struct {
	Case        string   `json:"case"`
	Class       string   `json:"class"`
	File        string   `json:"file"`
	Must        string   `json:"must"`
	ExecutedBy  []string `json:"executed_by"`
	FsspecURLBy []string `json:"fsspec_url_by"`
}

// issue16Rules are findings each case must have ("rule" or "rule:global";
// severity at least High unless the rule says otherwise).
var issue16Rules = map[string][]string{
	"p0-tail-newline":                   {"pickle/global-not-allowed:posix.system", RuleTrailingAfterStop},
	"p0-tail-text":                      {"pickle/global-not-allowed:posix.system", RuleTrailingAfterStop},
	"p0-tail-nul":                       {"pickle/global-not-allowed:posix.system", RuleTrailingAfterStop},
	"p0-open-write-tail":                {"pickle/global-not-allowed:builtins.open", RuleTrailingAfterStop},
	"p0-stats-npy":                      {"pickle/global-not-allowed:posix.system", RuleTrailingAfterStop},
	"p0-speakers-pth":                   {"pickle/global-not-allowed:posix.system", RuleTrailingAfterStop},
	"p0-no-stop":                        {"pickle/global-not-allowed:posix.system"},
	"coqui-folder-stats":                {"pickle/global-not-allowed:posix.system", RuleTrailingAfterStop},
	"zip-commentlen-lies":               {"zip/multiple-eocd", "pickle/global-not-allowed:posix.system"},
	"zip-trailing-partial-eocd":         {"zip/multiple-eocd", "zip/reader-disagreement", "zip/unaccounted", "pickle/global-not-allowed:posix.system"},
	"zip-zipfile-only":                  {"zip/reader-disagreement", "zip/unaccounted", "pickle/global-not-allowed:posix.system"},
	"config-encoder-data-url":           {"config/url"},
	"config-encoder-bare-protocol":      {"config/url"},
	"config-speakers-local-escape":      {"config/url"},
	"config-speakers-data-url":          {"config/url"},
	"config-yaml-speakers-local-escape": {"config/url"},
	"defaultdict-partial-factory":       {"pickle/global-not-allowed:functools.partial", "pickle/global-not-allowed:posix.system"},
}

const issue16Dir = "../testdata/issue16"

// TestIssue16 (issue 16, the four classes): every file the real loaders were
// seen to execute, or to open a URL through, is not clean, for the reason
// that makes it dangerous; the real benign checkpoints are clean.
func TestIssue16(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(issue16Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []issue16Case
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	classes := map[string]int{}
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scanner{Policy: pol, Limits: scan.DefaultLimits}
	for _, c := range cases {
		classes[c.Class]++
		t.Run(c.Case, func(t *testing.T) {
			if c.Must == "not-clean" && len(c.ExecutedBy)+len(c.FsspecURLBy) == 0 {
				t.Fatal("a malicious case that no loader was seen to run")
			}
			rep, err := s.Paths(context.Background(), []string{filepath.Join(issue16Dir, c.Case)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var dump strings.Builder
			for _, fr := range rep.Files {
				dump.WriteString("\n" + fr.Path + ": " + fr.Verdict + " " + fr.Unscannable)
				for _, f := range fr.Findings {
					dump.WriteString("\n  " + f.String())
					if f.Severity >= scan.High || f.Rule == RuleTrailingAfterStop {
						got = append(got, f.Rule, f.Rule+":"+f.Global)
					}
				}
			}
			switch c.Must {
			case "clean":
				if !rep.Clean {
					t.Fatalf("benign case flagged:%s", dump.String())
				}
			case "not-clean":
				if rep.Clean {
					t.Fatalf("clean, but %v executed it and %v opened a URL through fsspec:%s", c.ExecutedBy, c.FsspecURLBy, dump.String())
				}
			}
			for _, want := range issue16Rules[c.Case] {
				if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+want+" ") {
					t.Errorf("no %s:%s", want, dump.String())
				}
			}
		})
	}
	for _, cl := range []string{"trailing-after-p0", "zip-multi-eocd", "fsspec-url", "defaultdict"} {
		if classes[cl] < 2 {
			t.Errorf("class %s has %d cases", cl, classes[cl])
		}
	}
}

// TestLoaderOrderMagic: every format the loaders recognise by magic bytes
// fails as a pickle at its first byte, so reading everything else as
// pickle-first (scanLegacy) misses no file torch.load or np.load unpickles.
func TestLoaderOrderMagic(t *testing.T) {
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	s := &Scanner{Policy: pol, Limits: scan.DefaultLimits}
	for _, magic := range []string{"PK\x03\x04", "PK\x05\x06", "\x93NUMPY", "7z\xbc\xaf\x27\x1c", "RIFF", "fLaC", "OggS", "{", "#"} {
		c := s.context(0)
		var fs scan.Findings
		// a magic followed by a payload: no reading of it as a pickle gets past byte 0
		data := magic + "cposix\nsystem\n(S'x'\ntR."
		s.scanLegacy(context.Background(), c, strings.NewReader(data), int64(len(data)), &fs, scan.FormatUnknown) //nolint:errcheck // a broken zip is unscannable; only pickle findings matter here
		for _, f := range fs {
			if strings.HasPrefix(f.Rule, "pickle/") {
				t.Errorf("%q: the first pickle got past the magic: %v", magic, f)
			}
		}
	}
}

// TestTextStaysText: text that is no pickle to CPython is not flagged as one.
func TestTextStaysText(t *testing.T) {
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	s := &Scanner{Policy: pol, Limits: scan.DefaultLimits}
	for _, text := range []string{
		"coqui TTS model\nREADME\n", "# VITS\n\nA model.\n", "(c) 2024 the authors\nMIT\n", "MIT License\n",
		"characters:\n  pad: _\n", "input_sample_rate: 24000\n", `{"speaker_a": 0}`, "a\nb\nc\n",
	} {
		fr := s.Bytes(context.Background(), "x", []byte(text))
		if fr.Verdict != Clean {
			t.Errorf("%q: %s %v %s", text, fr.Verdict, fr.Findings, fr.Unscannable)
		}
	}
	// A protocol-0 pickle followed by text is a pickle (issue 16).
	fr := s.Bytes(context.Background(), "x", []byte("cposix\nsystem\n(S'x'\ntR.\nreadme\n"))
	if fr.Verdict != Unsafe || fr.Format != scan.FormatPickle {
		t.Errorf("p0 + text: %s %s", fr.Verdict, fr.Format)
	}
	// A benign pickle with bytes after its STOP is reported, not called clean.
	fr = s.Bytes(context.Background(), "x", []byte("\x80\x02}q\x00.hidden"))
	if fr.Verdict != Unsafe || !bytes.Contains([]byte(fr.Findings[0].Rule), []byte("trailing")) {
		t.Errorf("pickle + tail: %s %v", fr.Verdict, fr.Findings)
	}
}
