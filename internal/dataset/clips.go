package dataset

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
	"sync"

	"github.com/ttsguard/ttsguard/internal/dataset/audio"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// MaxInMemoryClip caps a clip read into memory when the file system gives
// no random access.
const MaxInMemoryClip = 256 << 20

// clipResult is what decoding one audio file found.
type clipResult struct {
	hdr    *audio.Header
	stats  *audio.Stats
	kind   string      // "wav", "flac", "mp3", "ogg" or "" for unknown content
	err    error       // why it could not be decoded
	format string      // "RATE Hz, N ch, ENC"
	tone   *audio.Tone // the most prominent peak above the inaudible band's edge; nil when none or no band
	f0     float64     // median F0 (Hz) of the voiced frames; 0 when fewer than minVoiced
}

// minVoiced is how many voiced frames (25 ms each) a clip needs for its
// median F0 to count in the composition.
const minVoiced = 10

// medianF0 is the median of a clip's voiced pitch frames in Hz (0 when
// fewer than minVoiced).
func medianF0(p []byte) float64 {
	var v []byte
	for _, x := range p {
		if x > 0 {
			v = append(v, x)
		}
	}
	if len(v) < minVoiced {
		return 0
	}
	slices.Sort(v)
	return audio.PitchHz(v[len(v)/2])
}

// decodeAll decodes every clip with workers goroutines; each holds one read
// buffer, so memory does not grow with the dataset.
func decodeAll(ctx context.Context, fsys fs.FS, paths []string, opt Options) (map[string]*clipResult, error) {
	out := make(map[string]*clipResult, len(paths))
	var mu sync.Mutex
	ch := make(chan string)
	var wg sync.WaitGroup
	for range max(opt.Workers, 1) {
		wg.Go(func() {
			for p := range ch {
				r := decodeClip(ctx, fsys, p, opt.Thresholds, opt.spectra)
				mu.Lock()
				out[p] = r
				if opt.Progress != nil {
					opt.Progress(len(out), len(paths))
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		ch <- p
	}
	close(ch)
	wg.Wait()
	return out, ctx.Err()
}

// decodeClip reads one clip and keeps its measures; the spectrum is reduced
// to its tone here, so what stays in memory per clip is a few numbers (keep
// holds the spectra of the few clips with the most prominent tones).
func decodeClip(ctx context.Context, fsys fs.FS, p string, th Thresholds, keep *spectrumKeeper) *clipResult {
	f, err := fsys.Open(p)
	if err != nil {
		return &clipResult{err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &clipResult{err: err}
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		if fi.Size() > MaxInMemoryClip {
			return &clipResult{err: fmt.Errorf("%d bytes without random access, more than %d", fi.Size(), MaxInMemoryClip)}
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxInMemoryClip))
		if err != nil {
			return &clipResult{err: err}
		}
		ra = bytes.NewReader(b)
	}
	var magic [12]byte
	n, _ := ra.ReadAt(magic[:], 0)
	r := &clipResult{kind: sniff(magic[:n])}
	switch r.kind {
	case "wav":
		r.hdr, r.err = audio.ReadHeader(ra, fi.Size())
		if r.err != nil {
			return r
		}
		r.stats, r.err = audio.Analyze(ctx, ra, r.hdr)
	case "flac":
		r.hdr, r.stats, r.err = audio.AnalyzeFLAC(ctx, ra, fi.Size())
	case "mp3":
		r.hdr, r.stats, r.err = audio.AnalyzeMP3(ctx, ra, fi.Size())
	default:
		return r
	}
	if r.hdr != nil && r.err == nil {
		r.format = fmt.Sprintf("%d Hz, %d ch, %s", r.hdr.SampleRate, r.hdr.Channels, r.hdr.SampleFormat())
	}
	if r.stats != nil {
		if t, ok := r.stats.Spectrum.PeakAbove(th.InaudibleHz); ok {
			r.tone = &t
			keep.offer(p, t, r.stats.Spectrum)
		}
		r.stats.Spectrum = nil
		r.f0 = medianF0(r.stats.Pitch)
	}
	return r
}

// sniff names an audio container by its first bytes (never by name).
func sniff(b []byte) string {
	switch {
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return "wav"
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "flac"
	case bytes.HasPrefix(b, []byte("OggS")):
		return "ogg"
	case bytes.HasPrefix(b, []byte("ID3")), len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		return "mp3"
	}
	return ""
}

// formatRules counts the decoded clips and their audio, finds the
// majority format and flags each clip in another format, at the first row
// that references it (a clip with samples; an empty one is audio/empty).
func formatRules(rows []RowEvidence, clips map[string]*ClipEvidence, rep *Report) {
	votes := map[string]int{}
	counted := map[string]bool{}
	for _, r := range rows { // in row order: the sum of seconds is the same however the clips were found
		if c := clips[r.Audio]; c != nil && c.Format != "" && !counted[r.Audio] {
			counted[r.Audio] = true
			votes[c.Format]++
			rep.Clips++
			rep.Seconds += c.Seconds
		}
	}
	for f, n := range votes { // the majority; ties go to the smaller string, for determinism
		if m := votes[rep.Majority]; n > m || n == m && f < rep.Majority {
			rep.Majority = f
		}
	}
	done := map[string]bool{}
	for _, r := range rows {
		c := clips[r.Audio]
		if c == nil || done[r.Audio] {
			continue
		}
		done[r.Audio] = true
		if c.Format != "" && c.Frames > 0 && c.Format != rep.Majority {
			rep.add(Finding{Rule: "audio/format-mismatch", Severity: scan.Medium, File: r.MetaFile, Line: r.Line, Clip: r.ID,
				Message: fmt.Sprintf("%q: %s, the rest of the dataset is %s", r.Audio, c.Format, rep.Majority)})
		}
	}
}

// clipRules applies the per-clip audio rules, once per clip, at the first
// row that references it.
func clipRules(rows []Row, clips map[string]*clipResult, opt Options, add func(Finding)) {
	th := opt.Thresholds
	done := map[string]bool{}
	for _, r := range rows {
		c := clips[r.Clip.Rel]
		if c == nil || done[r.Clip.Rel] {
			continue
		}
		done[r.Clip.Rel] = true
		emit := func(rule string, sev scan.Severity, format string, a ...any) {
			add(Finding{Rule: rule, Severity: sev, File: r.MetaFile, Line: r.Line, Clip: r.ID, Message: fmt.Sprintf("%q: ", r.Clip.Rel) + fmt.Sprintf(format, a...)})
		}
		switch {
		case c.kind == "":
			emit("audio/unreadable", scan.Medium, "not audio coqui's loader reads (no RIFF/WAVE, FLAC, Ogg or MP3 signature)")
			continue
		case c.kind == "ogg":
			emit("audio/not-decoded", scan.Info, "%s audio is not decoded yet: its samples were not checked", c.kind)
			continue
		case c.err != nil:
			emit("audio/unreadable", scan.Medium, "%v", c.err)
			continue
		}
		h, st := c.hdr, c.stats
		if len(h.Problems) > 0 {
			msg := ""
			for i, p := range h.Problems {
				if i > 0 {
					msg += "; "
				}
				msg += p.Code + ": " + p.Message
			}
			emit("audio/header-lie", scan.Medium, "the header disagrees with itself or the file: %s", msg)
		}
		secs := h.Duration.Seconds()
		switch {
		case h.Frames == 0:
			emit("audio/empty", scan.Medium, "no samples")
			continue
		case secs < th.MinSeconds || secs > th.MaxSeconds:
			emit("audio/duration", scan.Low, "%.2f s, outside %.2f-%.0f s", secs, th.MinSeconds, th.MaxSeconds)
		}
		if opt.SampleRate > 0 && h.SampleRate != opt.SampleRate {
			emit("audio/sample-rate", scan.Medium, "%d Hz, the config says %d Hz: without resampling coqui trains on it at the wrong speed and pitch", h.SampleRate, opt.SampleRate)
		}
		if st.NonFinite > 0 {
			emit("audio/non-finite", scan.High, "%d NaN or infinite samples", st.NonFinite)
		}
		if st.RMSDBFS < th.SilenceDBFS {
			emit("audio/near-silent", scan.Medium, "RMS %s dBFS (peak %s dBFS), below %.0f dBFS", db(st.RMSDBFS), db(st.PeakDBFS), th.SilenceDBFS)
		}
		if st.ClippedFrac > th.ClipFraction {
			emit("audio/clipping", scan.Low, "%d of %d samples (%.2f%%) at full scale", st.Clipped, st.Samples, 100*st.ClippedFrac)
		}
		if t := c.tone; t != nil && t.Prominence >= th.ToneProminenceDB && t.Level >= th.ToneLevelDB {
			emit("audio/inaudible-tone", scan.Medium, "narrowband energy at %.0f Hz, above %.0f Hz where people hear little or nothing: %.1f dB over the band's median, %.1f dB of the clip's power (an inaudible trigger)",
				t.Hz, th.InaudibleHz, t.Prominence, t.Level)
		}
		if math.Abs(st.DC) > th.DCOffset {
			emit("audio/dc-offset", scan.Low, "mean sample %.3f of full scale, above %.3f", st.DC, th.DCOffset)
		}
	}
}

func db(x float64) string {
	if math.IsInf(x, -1) {
		return "-inf"
	}
	return fmt.Sprintf("%.1f", x)
}
