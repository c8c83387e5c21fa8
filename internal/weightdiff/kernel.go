package weightdiff

import (
	"encoding/binary"
	"math"
)

// diff32 returns Σ(b-a)² and Σa² over the little-endian float32 elements of
// a and b (of the same length), in float64, with four accumulators.
func diff32(a, b []byte) (d, o float64) {
	n := len(a) / 4
	b = b[:n*4]
	var d0, d1, d2, d3, o0, o1, o2, o3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		x0 := float64(math.Float32frombits(binary.LittleEndian.Uint32(a[4*i:])))
		x1 := float64(math.Float32frombits(binary.LittleEndian.Uint32(a[4*i+4:])))
		x2 := float64(math.Float32frombits(binary.LittleEndian.Uint32(a[4*i+8:])))
		x3 := float64(math.Float32frombits(binary.LittleEndian.Uint32(a[4*i+12:])))
		y0 := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))) - x0
		y1 := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i+4:]))) - x1
		y2 := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i+8:]))) - x2
		y3 := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i+12:]))) - x3
		d0 += y0 * y0
		d1 += y1 * y1
		d2 += y2 * y2
		d3 += y3 * y3
		o0 += x0 * x0
		o1 += x1 * x1
		o2 += x2 * x2
		o3 += x3 * x3
	}
	for ; i < n; i++ {
		x := float64(math.Float32frombits(binary.LittleEndian.Uint32(a[4*i:])))
		y := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))) - x
		d0 += y * y
		o0 += x * x
	}
	return d0 + d1 + d2 + d3, o0 + o1 + o2 + o3
}
