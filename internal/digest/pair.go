package digest

import (
	"crypto/fips140"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"hash"
	"os"
	"sync"
)

// Two-lane SHA-256.
//
// One SHA-256 stream cannot use a whole core on CPUs whose SHA instructions
// accept a new round before the previous one is done (AMD Zen 3 measures 1.8-1.9×
// the single-stream rate with two streams interleaved; docs/BENCHMARKS.md).
// Run therefore gives each worker two lanes, each hashing its own task, and
// feeds whole 64-byte blocks of both lanes to blocks2 together. Everything
// else (partial blocks, padding, the final sum) stays with crypto/sha256: the
// lane state moves in and out of a crypto/sha256 hash through its documented
// binary marshaling, so a lane's digest is crypto/sha256's digest.

// stateSize is the length of crypto/sha256's marshaled state: magic "sha\x03",
// h0..h7, the 64-byte block buffer, and the length in bytes (big-endian).
const stateSize = 4 + 8*4 + 64 + 8

type sha256State interface {
	encoding.BinaryAppender
	encoding.BinaryUnmarshaler
}

// pairSupported reports whether the CPU has the instructions blocks2 needs
// and blocks2 agrees with crypto/sha256 on a self-test.
var pairSupported = sync.OnceValue(func() bool { return havePairHardware() && pairSelfTest() })

// pairEnabled reports whether Run hashes SHA-256 tasks two at a time:
// pairSupported, not in FIPS 140-3 mode (GODEBUG=fips140=on|only: every
// SHA-256 block then goes through Go's validated module, which blocks2 is
// not part of), and TTSGUARD_HASH_LANES is not "1" (the knob benchmarks use
// to measure one lane per worker).
func pairEnabled() bool {
	return pairSupported() && !fips140.Enabled() && os.Getenv("TTSGUARD_HASH_LANES") != "1"
}

// write2 hashes the longest common run of whole blocks of pa into ha and of pb
// into hb, and returns its length in bytes. It returns 0, having written
// nothing, when either hash has a partial block buffered, either input is
// shorter than a block, or the hashes are not crypto/sha256 SHA-256 hashes.
func write2(ha, hb hash.Hash, pa, pb []byte) int {
	n := min(len(pa), len(pb)) / 64
	if n == 0 {
		return 0
	}
	ma, okA := ha.(sha256State)
	mb, okB := hb.(sha256State)
	if !okA || !okB {
		return 0
	}
	var bufA, bufB [stateSize]byte
	sa, errA := ma.AppendBinary(bufA[:0])
	sb, errB := mb.AppendBinary(bufB[:0])
	if errA != nil || errB != nil || !wholeBlocks(sa) || !wholeBlocks(sb) {
		return 0
	}
	var wa, wb [8]uint32
	for i := range wa {
		wa[i] = binary.BigEndian.Uint32(sa[4+4*i:])
		wb[i] = binary.BigEndian.Uint32(sb[4+4*i:])
	}
	blocks2(&wa, &wb, &pa[0], &pb[0], n)
	for i := range wa {
		binary.BigEndian.PutUint32(sa[4+4*i:], wa[i])
		binary.BigEndian.PutUint32(sb[4+4*i:], wb[i])
	}
	binary.BigEndian.PutUint64(sa[stateSize-8:], binary.BigEndian.Uint64(sa[stateSize-8:])+uint64(n)*64)
	binary.BigEndian.PutUint64(sb[stateSize-8:], binary.BigEndian.Uint64(sb[stateSize-8:])+uint64(n)*64)
	if ma.UnmarshalBinary(sa) != nil || mb.UnmarshalBinary(sb) != nil {
		// Cannot happen for a state crypto/sha256 produced a moment ago; a
		// hash left half-updated must not yield a digest.
		panic("digest: crypto/sha256 refused its own state")
	}
	return n * 64
}

// wholeBlocks reports whether s is a SHA-256 (not SHA-224) state with no
// partial block buffered.
func wholeBlocks(s []byte) bool {
	return len(s) == stateSize && string(s[:4]) == "sha\x03" && binary.BigEndian.Uint64(s[stateSize-8:])%64 == 0
}

// pairSelfTest checks blocks2 against crypto/sha256 on inputs of different
// lengths (so that a lane mix-up or a state-format change shows).
func pairSelfTest() bool {
	a := make([]byte, 64*5)
	b := make([]byte, 64*3+17)
	for i := range a {
		a[i] = byte(i*31 + 7)
	}
	for i := range b {
		b[i] = byte(i*17 + 3)
	}
	ha, hb := sha256.New(), sha256.New()
	ha.Write(a[:64])
	if write2(ha, hb, a[64:], b) != 64*3 {
		return false
	}
	ha.Write(a[64+64*3:])
	hb.Write(b[64*3:])
	wa, wb := sha256.Sum256(a), sha256.Sum256(b)
	return string(ha.Sum(nil)) == string(wa[:]) && string(hb.Sum(nil)) == string(wb[:])
}
