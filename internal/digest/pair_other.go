//go:build !amd64

package digest

// Two-lane hashing exists for amd64 only; elsewhere every worker hashes one
// task at a time with crypto/sha256.

func blocks2(a, b *[8]uint32, pa, pb *byte, n int) { panic("digest: blocks2 on a platform without it") }

func havePairHardware() bool { return false }
