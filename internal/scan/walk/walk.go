// Package walk runs the checkpoint scanners over files and folders: it
// identifies every file by content, hands it to the scanner of its format,
// and recurses into archive members through the same dispatcher.
package walk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/numpy"
	"github.com/ttsguard/ttsguard/internal/scan/safetensors"
	"github.com/ttsguard/ttsguard/internal/scan/sevenzip"
	"github.com/ttsguard/ttsguard/internal/scan/torch"
)

// Verdicts.
const (
	Clean        = "clean"
	Unsafe       = "unsafe"
	Unscannable  = "unscannable"
	VerdictError = "error"
)

// FileReport is the verdict on one file.
type FileReport struct {
	Path        string         `json:"path"`
	Format      scan.Format    `json:"format"`
	Size        int64          `json:"size"`
	Verdict     string         `json:"verdict"`
	Findings    []scan.Finding `json:"findings,omitempty"`
	Unscannable string         `json:"unscannable,omitempty"` // why the file could not be fully parsed
}

// Report is the result of a scan.
type Report struct {
	Profile   string        `json:"profile"`
	Files     []*FileReport `json:"files"`
	Clean     bool          `json:"clean"`
	ElapsedMS float64       `json:"elapsed_ms"`
}

// Scanner scans files with one policy.
type Scanner struct {
	Policy *scan.Policy
	Limits scan.Limits
	// Open, when set, opens a regular file's content and returns its size
	// (nil: the file itself): a store encrypted at rest gives the
	// plaintext of a stored file (store.OpenPlain).
	Open func(path string) (*os.File, int64, error)
}

// Paths scans files and folders. Folders are walked; symlinks are never
// followed (a symlink is reported, not read).
func (s *Scanner) Paths(ctx context.Context, paths []string) (*Report, error) {
	t0 := time.Now()
	rep := &Report{Profile: s.Policy.Profile, Clean: true}
	for _, p := range paths {
		st, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			rep.Files = append(rep.Files, s.File(ctx, p))
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				rep.Files = append(rep.Files, &FileReport{Path: path, Verdict: VerdictError, Unscannable: err.Error()})
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rep.Files = append(rep.Files, s.File(ctx, path))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, f := range rep.Files {
		if f.Verdict != Clean {
			rep.Clean = false
		}
	}
	sort.SliceStable(rep.Files, func(i, j int) bool { return rep.Files[i].Path < rep.Files[j].Path })
	rep.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
	return rep, nil
}

// File scans one file.
func (s *Scanner) File(ctx context.Context, path string) *FileReport {
	fr := &FileReport{Path: path}
	st, err := os.Lstat(path)
	if err != nil {
		fr.Verdict, fr.Unscannable = VerdictError, err.Error()
		return fr
	}
	if !st.Mode().IsRegular() {
		fr.Verdict = Unsafe
		fr.Findings = []scan.Finding{{Rule: "file/not-regular", Severity: scan.High, Offset: -1,
			Message: fmt.Sprintf("%s: not scanned (symbolic links are never followed)", st.Mode().Type())}}
		return fr
	}
	open := s.Open
	if open == nil {
		open = func(p string) (*os.File, int64, error) {
			f, err := os.Open(p)
			return f, st.Size(), err
		}
	}
	f, size, err := open(path)
	if err != nil {
		fr.Verdict, fr.Unscannable = VerdictError, err.Error()
		return fr
	}
	defer f.Close()
	fr.Size = size
	var fs scan.Findings
	c := s.context(0)
	if abs, err := filepath.Abs(path); err == nil {
		c.Dir = filepath.Dir(abs)
	}
	fr.Format, err = s.examine(ctx, c, "", f, fr.Size, &fs)
	fr.Findings = fs
	return finish(fr, err)
}

// Bytes scans data held in memory (for tests and callers that already read it).
func (s *Scanner) Bytes(ctx context.Context, name string, data []byte) *FileReport {
	fr := &FileReport{Path: name, Size: int64(len(data))}
	r := bytes.NewReader(data)
	var fs scan.Findings
	var err error
	fr.Format, err = s.examine(ctx, s.context(0), "", r, fr.Size, &fs)
	fr.Findings = fs
	return finish(fr, err)
}

func finish(fr *FileReport, err error) *FileReport {
	switch {
	case err != nil:
		fr.Verdict, fr.Unscannable = Unscannable, err.Error()
		if !errors.Is(err, scan.ErrUnscannable) {
			fr.Verdict = VerdictError
		}
	case hasRisk(fr.Findings):
		fr.Verdict = Unsafe
	default:
		fr.Verdict = Clean
	}
	return fr
}

func hasRisk(fs []scan.Finding) bool {
	for _, f := range fs {
		if f.Severity > scan.Info {
			return true
		}
	}
	return false
}

func (s *Scanner) context(depth int) *scan.Context {
	c := &scan.Context{Policy: s.Policy, Limits: s.Limits, Depth: depth}
	c.Examine = func(ctx context.Context, member string, r io.ReaderAt, size int64, sink scan.Sink) error {
		_, err := s.examine(ctx, c, member, r, size, sink)
		return err
	}
	return c
}

// examine dispatches bytes to the scanner of their format and returns the
// format it read them as. c is the context of the container the bytes came
// from; member prefixes the findings.
//
// The order is the loaders' (docs/scan.md, "How files are read"): a zip
// (torch.load and np.load test the first bytes for a local header), a 7z
// archive (unpacked first), an .npy (np.load tests its magic), safetensors
// (which probes the same bytes as a pickle), audio; everything else is what
// torch.load's legacy path (tar, then pickle) and np.load's pickle fallback
// read: see scanLegacy.
func (s *Scanner) examine(ctx context.Context, c *scan.Context, member string, r io.ReaderAt, size int64, sink scan.Sink) (scan.Format, error) {
	if member != "" {
		nc, err := c.Nested()
		if err != nil {
			return scan.FormatUnknown, err
		}
		c = s.context(nc.Depth)
		sink = scan.Prefixed(sink, member)
	}
	switch f := scan.Detect(r, size); f {
	case scan.FormatZip:
		return f, torch.ScanZip(ctx, c, r, size, sink)
	case scan.FormatNpy:
		return f, numpy.ScanNpy(ctx, c, r, size, sink)
	case scan.FormatSafetensors:
		return f, safetensors.Scan(ctx, c, r, size, sink)
	case scan.FormatSevenZip:
		return f, sevenzip.Scan(ctx, c, r, size, sink)
	case scan.FormatEmpty, scan.FormatAudio:
		return f, nil
	default:
		return s.scanLegacy(ctx, c, r, size, sink, f)
	}
}
