package scan

import "testing"

func TestShifted(t *testing.T) {
	tests := []struct {
		name string
		base int64
		in   Finding
		want int64
	}{
		{"shifted", 10, Finding{Offset: 5}, 15},
		{"no offset", 10, Finding{Offset: -1}, -1},
		{"nested member keeps its offset", 10, Finding{Offset: 5, Member: "a"}, 5},
		{"zero base", 0, Finding{Offset: 7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fs Findings
			Shifted(&fs, tt.base).Add(tt.in)
			if len(fs) != 1 || fs[0].Offset != tt.want {
				t.Fatalf("got %+v, want offset %d", fs, tt.want)
			}
		})
	}
}
