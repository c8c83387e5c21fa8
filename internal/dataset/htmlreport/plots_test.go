package htmlreport

import (
	"slices"
	"testing"
)

// TestNiceAxes: axis ends are round and cover the data; ticks are round,
// at most about six, inside the range.
func TestNiceAxes(t *testing.T) {
	for _, c := range []struct {
		v, max float64
	}{{0, 1}, {0.7, 0.8}, {11.55, 12}, {41, 50}, {131, 150}, {3600, 4000}, {1e-3, 1e-3}} {
		if got := niceMax(c.v); got != c.max {
			t.Errorf("niceMax(%v) = %v, want %v", c.v, got, c.max)
		}
	}
	for _, c := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 12, []float64{0, 2, 4, 6, 8, 10, 12}},
		{0, 50, []float64{0, 10, 20, 30, 40, 50}},
		{-100, 0, []float64{-100, -80, -60, -40, -20, 0}},
		{0, 22050, []float64{0, 5000, 10000, 15000, 20000}},
		{5, 5, nil},
	} {
		if got := niceTicks(c.lo, c.hi); !slices.EqualFunc(got, c.want, func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }) {
			t.Errorf("niceTicks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
}
