package digest

import "golang.org/x/sys/cpu"

// blocks2 runs the SHA-256 compression function over n 64-byte blocks of two
// independent streams: pa into state a, pb into state b (h0..h7 each).
//
//go:noescape
func blocks2(a, b *[8]uint32, pa, pb *byte, n int)

// cpuid executes CPUID with EAX = leaf and ECX = sub.
func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// havePairHardware reports the SHA extensions (CPUID leaf 7, EBX bit 29) plus
// SSSE3 and SSE4.1, which blocks2 uses around them.
func havePairHardware() bool {
	if !cpu.X86.HasSSSE3 || !cpu.X86.HasSSE41 {
		return false
	}
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&(1<<29) != 0
}
