package weightdiff

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// nativeLittle: the host stores float32 as the checkpoints do, so their
// bytes can be read as []float32 in place.
var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// diff32 returns Σ(b-a)² and Σa² over the little-endian float32 elements of
// a and b (of the same length), in float64.
func diff32(a, b []byte) (d, o float64) {
	n := len(a) / 4
	if n == 0 {
		return 0, 0
	}
	if !nativeLittle || uintptr(unsafe.Pointer(&a[0]))%4 != 0 || uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return diff32Portable(a, b)
	}
	x := unsafe.Slice((*float32)(unsafe.Pointer(&a[0])), n)
	y := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)[:len(x)]
	var d0, d1, d2, d3, o0, o1, o2, o3 float64
	for len(x) >= 4 && len(y) >= 4 {
		x0, x1, x2, x3 := float64(x[0]), float64(x[1]), float64(x[2]), float64(x[3])
		e0, e1, e2, e3 := float64(y[0])-x0, float64(y[1])-x1, float64(y[2])-x2, float64(y[3])-x3
		d0 += e0 * e0
		d1 += e1 * e1
		d2 += e2 * e2
		d3 += e3 * e3
		o0 += x0 * x0
		o1 += x1 * x1
		o2 += x2 * x2
		o3 += x3 * x3
		x, y = x[4:], y[4:]
	}
	for i := range x {
		x0 := float64(x[i])
		e0 := float64(y[i]) - x0
		d0 += e0 * e0
		o0 += x0 * x0
	}
	return d0 + d1 + d2 + d3, o0 + o1 + o2 + o3
}

// diff32Portable is diff32 for any host and alignment.
func diff32Portable(a, b []byte) (d, o float64) {
	n := len(a) / 4
	for i := 0; i < n; i++ {
		x := float64(math.Float32frombits(binary.LittleEndian.Uint32(a[4*i:])))
		e := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))) - x
		d += e * e
		o += x * x
	}
	return d, o
}
