package audio

import (
	"bytes"
	"context"
	"testing"
)

// FuzzReadHeader: any bytes give a header or ErrNotWAV, never a panic; the
// samples located lie inside the input; the whole input analyses without
// reading past it.
func FuzzReadHeader(f *testing.F) {
	f.Add(build(wavSpec{samples: pcm16(1, 2, 3)}))
	f.Add(build(wavSpec{extensible: true, bits: 24, channels: 2, samples: make([]byte, 12)}))
	f.Add(build(wavSpec{dataDelta: 1 << 30, samples: pcm16(1)}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, err := ReadHeader(r, int64(len(data)))
		if err != nil {
			return
		}
		if h.DataOffset < 0 || h.DataSize < 0 || h.DataOffset+h.DataSize > int64(len(data)) {
			t.Fatalf("samples [%d, +%d) outside %d bytes", h.DataOffset, h.DataSize, len(data))
		}
		st, err := Analyze(context.Background(), r, h)
		if err != nil {
			t.Fatalf("analyze a located data chunk: %v", err)
		}
		if st.Samples+st.NonFinite != h.Frames*int64(h.Channels) {
			t.Fatalf("%d samples decoded, header has %d frames × %d channels", st.Samples+st.NonFinite, h.Frames, h.Channels)
		}
	})
}
