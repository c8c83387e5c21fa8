package audio

import (
	"math"
	"math/bits"
)

// Fingerprint settings. A clip's fingerprint is one byte per frame of
// 1/FingerprintFramesPerSecond s: the signs of how the energy in five
// frequency bands (split at FingerprintBandsHz by one-pole filters, so the
// bands are the same in Hz at every sample rate) changes from one frame to
// the next, across time and across neighbouring bands. Signs of energy
// differences do not change with gain; frames counted in seconds do not
// change with resampling; a small trim shifts the fingerprint by a few
// frames, which matching searches. Each frame's energy is taken over four
// hops (100 ms, overlapping), so a shift by part of a hop changes little.
const (
	FingerprintFramesPerSecond = 40
	// MaxFingerprintFrames caps one clip's fingerprint (the first 60 s).
	MaxFingerprintFrames = 60 * FingerprintFramesPerSecond
	// fpHopsPerFrame: a frame's energy is taken over this many hops
	// (100 ms), so a shift by part of a hop changes it little.
	fpHopsPerFrame = 4
	// fpCompareHops: a frame is compared with the one this many hops
	// earlier (no overlap), so the differences are large enough to keep
	// their sign under noise.
	fpCompareHops = 4
)

// FingerprintBandsHz are the edges between the five bands.
var FingerprintBandsHz = [4]float64{300, 800, 1600, 3200}

// fpAcc gathers the fingerprint while samples (channels interleaved) stream.
type fpAcc struct {
	alpha    [4]float64 // one-pole coefficients of the low-pass filters
	lp       [4]float64 // their states
	hop      float64    // samples (instants) per hop, fractional
	next     float64    // instant where the current hop ends
	pos      int64      // instant being filled
	ch       int
	chans    int
	sum      float64
	e        [5]float64                 // band energies of the current hop
	ring     [fpHopsPerFrame][5]float64 // of the frame's hops
	logs     [fpCompareHops][6]float64  // log band energies and total of the last frames
	hops     int
	out      []byte
	pitch    *pitchAcc
	f0       byte   // the latest estimate
	pitchOut []byte // one per fingerprint frame
}

func newFPAcc(rate, chans int) *fpAcc {
	a := &fpAcc{chans: max(chans, 1), hop: float64(rate) / FingerprintFramesPerSecond, pitch: newPitchAcc(rate)}
	a.next = a.hop
	for i, f := range FingerprintBandsHz {
		a.alpha[i] = 1 - math.Exp(-2*math.Pi*f/float64(max(rate, 1)))
	}
	return a
}

// addBlock takes samples (channels interleaved).
func (a *fpAcc) addBlock(xs []float64) {
	lp, alpha, e := a.lp, a.alpha, a.e
	for _, x := range xs {
		if a.chans > 1 {
			a.sum += x
			a.ch++
			if a.ch < a.chans {
				continue
			}
			x = a.sum / float64(a.chans)
			a.ch, a.sum = 0, 0
		}
		lp[0] += alpha[0] * (x - lp[0])
		lp[1] += alpha[1] * (x - lp[1])
		lp[2] += alpha[2] * (x - lp[2])
		lp[3] += alpha[3] * (x - lp[3])
		b0, b1, b2, b3, b4 := lp[0], lp[1]-lp[0], lp[2]-lp[1], lp[3]-lp[2], x-lp[3]
		e[0] += b0 * b0
		e[1] += b1 * b1
		e[2] += b2 * b2
		e[3] += b3 * b3
		e[4] += b4 * b4
		a.pitch.add(lp[1])
		a.pos++
		if float64(a.pos) >= a.next {
			a.e = e
			a.endHop()
			e = a.e
		}
	}
	a.lp, a.e = lp, e
}

// endHop closes a hop; a frame is this hop and the previous one.
func (a *fpAcc) endHop() {
	a.next += a.hop
	a.ring[a.hops%fpHopsPerFrame] = a.e
	a.e = [5]float64{}
	a.hops++
	if a.hops%2 == 0 {
		a.f0 = a.pitch.estimate()
	}
	var f [5]float64
	for _, h := range a.ring {
		for i := range f {
			f[i] += h[i]
		}
	}
	// log energies: a gain or the loudness envelope adds the same to
	// every band, so band ratios (differences of logs) ignore it
	var l [5]float64
	tot := 0.0
	for i, v := range f {
		l[i] = math.Log(v + 1e-10*a.hop)
		tot += v
	}
	lt := math.Log(tot + 5e-10*a.hop)
	l6 := [6]float64{l[0], l[1], l[2], l[3], l[4], lt}
	slot := a.hops % fpCompareHops
	last := a.logs[slot] // the frame fpCompareHops hops earlier
	a.logs[slot] = l6
	if a.hops >= fpHopsPerFrame+fpCompareHops && len(a.out) < MaxFingerprintFrames {
		var v byte
		for b := range 4 { // spectral slope between neighbours, rising or falling
			if (l[b]-l[b+1])-(last[b]-last[b+1]) > 0 {
				v |= 1 << b
			}
		}
		for b := range 3 { // between bands two apart
			if (l[b]-l[b+2])-(last[b]-last[b+2]) > 0 {
				v |= 1 << (4 + b)
			}
		}
		if lt > last[5] { // loudness
			v |= 1 << 7
		}
		a.out = append(a.out, v)
		a.pitchOut = append(a.pitchOut, a.f0)
	}
}

// FingerprintBER compares two fingerprints with b shifted by shift frames
// (b[i+shift] against a[i]) and returns the share of differing bits over
// the frames both have, and that frame count.
func FingerprintBER(a, b []byte, shift int) (float64, int) {
	diff, n := 0, 0
	for i := max(0, -shift); i < len(a) && i+shift < len(b); i++ {
		diff += bits.OnesCount8(a[i] ^ b[i+shift])
		n++
	}
	if n == 0 {
		return 1, 0
	}
	return float64(diff) / float64(8*n), n
}
