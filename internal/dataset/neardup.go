package dataset

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/ttsguard/ttsguard/internal/dataset/audio"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// Near-duplicate matching settings.
const (
	// nearDupMinFrames: clips with shorter fingerprints (0.5 s) are not
	// compared.
	nearDupMinFrames = 20
	// nearDupMaxGroup: a fingerprint key shared by more clips than this
	// is too common to point at a copy (silence, a steady hum) and is
	// skipped.
	nearDupMaxGroup = 32
	// nearDupOverlap: the frames compared must cover this share of the
	// shorter clip, and the shorter this share of the longer (small trims
	// only).
	nearDupOverlap = 0.8
	// nearDupShifts: the distinct shifts kept per pair of clips (a key
	// can occur at several places of one clip).
	nearDupShifts = 8
	// nearDupPitch: the share of frames voiced in both whose F0 agree
	// within half a semitone, at least, over at least nearDupVoiced
	// frames (half a second of voicing: a short clip is not judged; two
	// espeak-ng readings of "Nobody knew why." 3 pitch units apart agree
	// in all of their 12). A copy keeps its pitch (gain, noise, trims and resampling
	// do not move it; 0.93 or more in the tests); the same sentence read
	// by another voice has the same phonetic shape, so a close
	// fingerprint, but not the same pitch to the half semitone (0.86 at
	// most for espeak-ng voices 3 pitch units apart).
	nearDupPitch  = 0.9
	nearDupVoiced = 20
)

// fpClip is one distinct decoded clip with its fingerprint.
type fpClip struct {
	row   RowEvidence
	fp    []byte
	pitch []byte
	sha   string
}

// posting is one key of a fingerprint: three frames at pos.
type posting struct {
	key  uint32
	clip int32
	pos  int32
}

// nearDuplicates finds clips whose fingerprints match another's (bit error
// rate at most th.NearDupBER at some small shift) without the same samples
// (those are label/duplicate-audio) and whose pitch agrees frame by frame
// (nearDupPitch): a recording altered by gain, a trim, noise or
// resampling. Candidates come from exact matches of 24-bit keys
// (three frames, at every position: 12 bytes per frame of audio, 40 frames
// a second), and each clip is compared with the earlier clips that share a
// key with it, one clip's candidates in memory at a time and the work
// does not grow with the square of the clips. The later clip (in row
// order) of a pair is flagged, once.
func nearDuplicates(rows []RowEvidence, clips map[string]*ClipEvidence, cross crossPair, th Thresholds, emit func(Finding)) {
	if th.NearDupBER <= 0 {
		return
	}
	var list []fpClip
	seen := map[string]bool{}
	for _, r := range rows {
		c := clips[r.Audio]
		if c == nil || seen[r.Audio] || len(c.Fingerprint) < nearDupMinFrames {
			continue
		}
		seen[r.Audio] = true
		list = append(list, fpClip{r, c.Fingerprint, c.Pitch, c.SHA256})
	}
	var posts []posting
	for i, c := range list {
		for p := 0; p+3 <= len(c.fp); p++ {
			k := uint32(c.fp[p])<<16 | uint32(c.fp[p+1])<<8 | uint32(c.fp[p+2])
			posts = append(posts, posting{k, int32(i), int32(p)})
		}
	}
	slices.SortFunc(posts, func(a, b posting) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.clip, b.clip), cmp.Compare(a.pos, b.pos))
	})
	// each clip against the earlier ones that share a key with it: the
	// candidates of one clip at a time are in memory
	for bi := range list {
		b := list[bi]
		cand := map[int32][]int32{} // earlier clip -> shifts its keys give (at most nearDupShifts)
		for p := 0; p+3 <= len(b.fp); p++ {
			k := uint32(b.fp[p])<<16 | uint32(b.fp[p+1])<<8 | uint32(b.fp[p+2])
			lo, _ := slices.BinarySearchFunc(posts, k, func(q posting, k uint32) int { return cmp.Compare(q.key, k) })
			hi := lo
			for hi < len(posts) && posts[hi].key == k {
				hi++
			}
			if hi-lo > nearDupMaxGroup {
				continue
			}
			for _, q := range posts[lo:hi] {
				if q.clip >= int32(bi) {
					break // sorted by clip: the rest are this clip or later
				}
				s := int32(p) - q.pos
				if c := cand[q.clip]; len(c) < nearDupShifts && !slices.Contains(c, s) {
					cand[q.clip] = append(c, s)
				}
			}
		}
		for _, ai := range slices.Sorted(maps.Keys(cand)) {
			if nearDupMatch(list[ai], b, cand[ai], cross, th, emit) {
				break
			}
		}
	}
}

// nearDupMatch compares clip b with the earlier clip a at the shifts given
// and emits the finding on b when they are one recording.
func nearDupMatch(a, b fpClip, shifts []int32, cross crossPair, th Thresholds, emit func(Finding)) bool {
	if a.sha == b.sha {
		return false
	}
	short, long := min(len(a.fp), len(b.fp)), max(len(a.fp), len(b.fp))
	if float64(short) < nearDupOverlap*float64(long) {
		return false
	}
	best, shift := 1.0, 0
	for _, s := range shifts {
		ber, n := audio.FingerprintBER(a.fp, b.fp, int(s))
		if float64(n) >= nearDupOverlap*float64(short) && ber < best {
			best, shift = ber, int(s)
		}
	}
	if best > th.NearDupBER {
		return false
	}
	pitch, voiced := audio.PitchAgreement(a.pitch, b.pitch, shift)
	if voiced < nearDupVoiced || pitch < nearDupPitch {
		return false
	}
	r, f := b.row, a.row
	ms := 1000 * float64(shift) / audio.FingerprintFramesPerSecond
	if cross(f, r, false, fmt.Sprintf("an altered copy (fingerprints differ in %.1f%% of bits, shifted %+.0f ms; pitch agrees in %.0f%% of %d voiced frames) of", 100*best, ms, 100*pitch, voiced), emit) {
		return true
	}
	if normText(f.Text) != normText(r.Text) {
		emit(Finding{Rule: "label/near-duplicate-audio", Severity: scan.Medium, File: r.MetaFile, Line: r.Line, Clip: r.ID,
			Message: fmt.Sprintf("audio %q is the recording of %s:%d (clip %q, %q) altered (gain, trim, noise or resampling: fingerprints differ in %.1f%% of bits, shifted %+.0f ms; pitch agrees in %.0f%% of %d voiced frames) under another transcript: %q here, %q there",
				r.Audio, f.MetaFile, f.Line, f.ID, f.Audio, 100*best, ms, 100*pitch, voiced, r.Text, f.Text)})
		return true
	}
	emit(Finding{Rule: "label/near-duplicate-audio", Severity: scan.Low, File: r.MetaFile, Line: r.Line, Clip: r.ID,
		Message: fmt.Sprintf("audio %q is the recording of %s:%d (clip %q, %q) altered (fingerprints differ in %.1f%% of bits, shifted %+.0f ms; pitch agrees in %.0f%% of %d voiced frames) with the same transcript: trained on twice",
			r.Audio, f.MetaFile, f.Line, f.ID, f.Audio, 100*best, ms, 100*pitch, voiced)})
	return true
}
