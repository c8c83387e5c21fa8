// Two-lane SHA-256 block function for amd64 with the SHA extensions
// (SHA-NI). Written for ttsguard from FIPS 180-4 and the instruction
// definitions in the Intel SDM.
//
// One SHA-256 stream is bound by the latency of SHA256RNDS2 (each pair of
// rounds depends on the previous one); the unit can accept a new SHA256RNDS2
// before the previous one has finished, so hashing two independent streams
// with their rounds interleaved does nearly twice the work per cycle.
//
// Registers: X1/X2 lane A ABEF/CDGH, X3-X6 lane A message words,
// X7/X8 lane B ABEF/CDGH, X9-X12 lane B message words, X0 the implicit
// W+K operand of SHA256RNDS2, X13 scratch, X14 the byte-swap mask.
// The state at the start of a block is saved in the frame (4 × 16 bytes).

#include "textflag.h"

// ROUNDS4 runs rounds 4k..4k+3 of one lane: S0 = ABEF, S1 = CDGH, M holds
// W[4k..4k+3], koff is the offset of K[4k] in the constant table (AX).
#define ROUNDS4(S0, S1, M, koff) \
	MOVOU koff(AX), X0; \
	PADDD M, X0; \
	SHA256RNDS2 X0, S0, S1; \
	PSHUFD $0x0e, X0, X0; \
	SHA256RNDS2 X0, S1, S0

// SCHEDULE finishes W for the next group in NEXT (which holds the
// SHA256MSG1 result for it): adds W[t-7..t-4] (taken from CUR:PREV) and
// the sigma1 terms (SHA256MSG2 with CUR = W[t-4..t-1]).
#define SCHEDULE(NEXT, CUR, PREV) \
	MOVO CUR, X13; \
	PALIGNR $4, PREV, X13; \
	PADDD X13, NEXT; \
	SHA256MSG2 CUR, NEXT

// LOADSTATE turns h0..h7 at (R) into ABEF (S0) and CDGH (S1).
#define LOADSTATE(R, S0, S1) \
	MOVOU (R), S0; \
	MOVOU 16(R), S1; \
	PSHUFD $0xb1, S0, S0; \
	PSHUFD $0x1b, S1, S1; \
	MOVO S0, X13; \
	PALIGNR $8, S1, S0; \
	PBLENDW $0xf0, X13, S1

// STORESTATE writes ABEF (S0) and CDGH (S1) back as h0..h7 at (R).
#define STORESTATE(R, S0, S1) \
	PSHUFD $0x1b, S0, S0; \
	PSHUFD $0xb1, S1, S1; \
	MOVO S0, X13; \
	PBLENDW $0xf0, S1, S0; \
	PALIGNR $8, X13, S1; \
	MOVOU S0, (R); \
	MOVOU S1, 16(R)

// LOADMSG reads 16 big-endian words at (P) into M0..M3.
#define LOADMSG(P, M0, M1, M2, M3) \
	MOVOU (P), M0; \
	PSHUFB X14, M0; \
	MOVOU 16(P), M1; \
	PSHUFB X14, M1; \
	MOVOU 32(P), M2; \
	PSHUFB X14, M2; \
	MOVOU 48(P), M3; \
	PSHUFB X14, M3

// ADDSAVED adds the saved state at off(SP) to S.
#define ADDSAVED(off, S) \
	MOVOU off(SP), X13; \
	PADDD X13, S

// func blocks2(a, b *[8]uint32, pa, pb *byte, n int)
TEXT ·blocks2(SB), NOSPLIT, $64-40
	MOVQ a+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ pa+16(FP), R8
	MOVQ pb+24(FP), R9
	MOVQ n+32(FP), CX
	TESTQ CX, CX
	JZ done
	LEAQ ·k256<>(SB), AX
	MOVOU ·bswapMask<>(SB), X14
	LOADSTATE(DI, X1, X2)
	LOADSTATE(SI, X7, X8)

loop:
	MOVOU X1, 0(SP)
	MOVOU X2, 16(SP)
	MOVOU X7, 32(SP)
	MOVOU X8, 48(SP)
	LOADMSG(R8, X3, X4, X5, X6)
	LOADMSG(R9, X9, X10, X11, X12)

	// rounds 0..3
	ROUNDS4(X1, X2, X3, 0)
	ROUNDS4(X7, X8, X9, 0)
	// rounds 4..7
	ROUNDS4(X1, X2, X4, 16)
	ROUNDS4(X7, X8, X10, 16)
	SHA256MSG1 X4, X3
	SHA256MSG1 X10, X9
	// rounds 8..11
	ROUNDS4(X1, X2, X5, 32)
	ROUNDS4(X7, X8, X11, 32)
	SHA256MSG1 X5, X4
	SHA256MSG1 X11, X10
	// rounds 12..15
	ROUNDS4(X1, X2, X6, 48)
	ROUNDS4(X7, X8, X12, 48)
	SCHEDULE(X3, X6, X5)
	SCHEDULE(X9, X12, X11)
	SHA256MSG1 X6, X5
	SHA256MSG1 X12, X11
	// rounds 16..19
	ROUNDS4(X1, X2, X3, 64)
	ROUNDS4(X7, X8, X9, 64)
	SCHEDULE(X4, X3, X6)
	SCHEDULE(X10, X9, X12)
	SHA256MSG1 X3, X6
	SHA256MSG1 X9, X12
	// rounds 20..23
	ROUNDS4(X1, X2, X4, 80)
	ROUNDS4(X7, X8, X10, 80)
	SCHEDULE(X5, X4, X3)
	SCHEDULE(X11, X10, X9)
	SHA256MSG1 X4, X3
	SHA256MSG1 X10, X9
	// rounds 24..27
	ROUNDS4(X1, X2, X5, 96)
	ROUNDS4(X7, X8, X11, 96)
	SCHEDULE(X6, X5, X4)
	SCHEDULE(X12, X11, X10)
	SHA256MSG1 X5, X4
	SHA256MSG1 X11, X10
	// rounds 28..31
	ROUNDS4(X1, X2, X6, 112)
	ROUNDS4(X7, X8, X12, 112)
	SCHEDULE(X3, X6, X5)
	SCHEDULE(X9, X12, X11)
	SHA256MSG1 X6, X5
	SHA256MSG1 X12, X11
	// rounds 32..35
	ROUNDS4(X1, X2, X3, 128)
	ROUNDS4(X7, X8, X9, 128)
	SCHEDULE(X4, X3, X6)
	SCHEDULE(X10, X9, X12)
	SHA256MSG1 X3, X6
	SHA256MSG1 X9, X12
	// rounds 36..39
	ROUNDS4(X1, X2, X4, 144)
	ROUNDS4(X7, X8, X10, 144)
	SCHEDULE(X5, X4, X3)
	SCHEDULE(X11, X10, X9)
	SHA256MSG1 X4, X3
	SHA256MSG1 X10, X9
	// rounds 40..43
	ROUNDS4(X1, X2, X5, 160)
	ROUNDS4(X7, X8, X11, 160)
	SCHEDULE(X6, X5, X4)
	SCHEDULE(X12, X11, X10)
	SHA256MSG1 X5, X4
	SHA256MSG1 X11, X10
	// rounds 44..47
	ROUNDS4(X1, X2, X6, 176)
	ROUNDS4(X7, X8, X12, 176)
	SCHEDULE(X3, X6, X5)
	SCHEDULE(X9, X12, X11)
	SHA256MSG1 X6, X5
	SHA256MSG1 X12, X11
	// rounds 48..51
	ROUNDS4(X1, X2, X3, 192)
	ROUNDS4(X7, X8, X9, 192)
	SCHEDULE(X4, X3, X6)
	SCHEDULE(X10, X9, X12)
	SHA256MSG1 X3, X6
	SHA256MSG1 X9, X12
	// rounds 52..55
	ROUNDS4(X1, X2, X4, 208)
	ROUNDS4(X7, X8, X10, 208)
	SCHEDULE(X5, X4, X3)
	SCHEDULE(X11, X10, X9)
	// rounds 56..59
	ROUNDS4(X1, X2, X5, 224)
	ROUNDS4(X7, X8, X11, 224)
	SCHEDULE(X6, X5, X4)
	SCHEDULE(X12, X11, X10)
	// rounds 60..63
	ROUNDS4(X1, X2, X6, 240)
	ROUNDS4(X7, X8, X12, 240)

	ADDSAVED(0, X1)
	ADDSAVED(16, X2)
	ADDSAVED(32, X7)
	ADDSAVED(48, X8)
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ loop

	STORESTATE(DI, X1, X2)
	STORESTATE(SI, X7, X8)

done:
	RET

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// PSHUFB mask that reverses the bytes of each 32-bit word.
DATA ·bswapMask<>+0(SB)/8, $0x0405060700010203
DATA ·bswapMask<>+8(SB)/8, $0x0c0d0e0f08090a0b
GLOBL ·bswapMask<>(SB), RODATA|NOPTR, $16

// K[0..63], FIPS 180-4 section 4.2.2.
DATA ·k256<>+0(SB)/8, $0x71374491428a2f98
DATA ·k256<>+8(SB)/8, $0xe9b5dba5b5c0fbcf
DATA ·k256<>+16(SB)/8, $0x59f111f13956c25b
DATA ·k256<>+24(SB)/8, $0xab1c5ed5923f82a4
DATA ·k256<>+32(SB)/8, $0x12835b01d807aa98
DATA ·k256<>+40(SB)/8, $0x550c7dc3243185be
DATA ·k256<>+48(SB)/8, $0x80deb1fe72be5d74
DATA ·k256<>+56(SB)/8, $0xc19bf1749bdc06a7
DATA ·k256<>+64(SB)/8, $0xefbe4786e49b69c1
DATA ·k256<>+72(SB)/8, $0x240ca1cc0fc19dc6
DATA ·k256<>+80(SB)/8, $0x4a7484aa2de92c6f
DATA ·k256<>+88(SB)/8, $0x76f988da5cb0a9dc
DATA ·k256<>+96(SB)/8, $0xa831c66d983e5152
DATA ·k256<>+104(SB)/8, $0xbf597fc7b00327c8
DATA ·k256<>+112(SB)/8, $0xd5a79147c6e00bf3
DATA ·k256<>+120(SB)/8, $0x1429296706ca6351
DATA ·k256<>+128(SB)/8, $0x2e1b213827b70a85
DATA ·k256<>+136(SB)/8, $0x53380d134d2c6dfc
DATA ·k256<>+144(SB)/8, $0x766a0abb650a7354
DATA ·k256<>+152(SB)/8, $0x92722c8581c2c92e
DATA ·k256<>+160(SB)/8, $0xa81a664ba2bfe8a1
DATA ·k256<>+168(SB)/8, $0xc76c51a3c24b8b70
DATA ·k256<>+176(SB)/8, $0xd6990624d192e819
DATA ·k256<>+184(SB)/8, $0x106aa070f40e3585
DATA ·k256<>+192(SB)/8, $0x1e376c0819a4c116
DATA ·k256<>+200(SB)/8, $0x34b0bcb52748774c
DATA ·k256<>+208(SB)/8, $0x4ed8aa4a391c0cb3
DATA ·k256<>+216(SB)/8, $0x682e6ff35b9cca4f
DATA ·k256<>+224(SB)/8, $0x78a5636f748f82ee
DATA ·k256<>+232(SB)/8, $0x8cc7020884c87814
DATA ·k256<>+240(SB)/8, $0xa4506ceb90befffa
DATA ·k256<>+248(SB)/8, $0xc67178f2bef9a3f7
GLOBL ·k256<>(SB), RODATA|NOPTR, $256
