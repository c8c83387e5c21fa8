package weightdiff

import (
	"encoding/binary"
	"math"
	"math/rand"
	"testing"
)

func floats32(n int, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	b := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64())))
	}
	return b
}

// TestDiff32: the fast kernel gives the sums of the plain definition.
func TestDiff32(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 1023, 65536} {
		a, b := floats32(n, 1), floats32(n, 2)
		var wd, wo float64
		for i := range n {
			x := float64(math.Float32frombits(binary.LittleEndian.Uint32(a[4*i:])))
			y := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			wd += (y - x) * (y - x)
			wo += x * x
		}
		d, o := diff32(a, b)
		if math.Abs(d-wd) > 1e-12*math.Max(1, wd) || math.Abs(o-wo) > 1e-12*math.Max(1, wo) {
			t.Errorf("n=%d: %v %v, want %v %v", n, d, o, wd, wo)
		}
	}
}

func BenchmarkDiff32(b *testing.B) {
	x, y := floats32(chunk, 1), floats32(chunk, 2)
	b.SetBytes(int64(len(x) * 2))
	for b.Loop() {
		diff32(x, y)
	}
}
