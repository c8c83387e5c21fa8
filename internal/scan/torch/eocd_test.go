package torch

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// withComment sets the comment length of the end record at off.
func withComment(b []byte, off int64, n uint16) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint16(b[off+20:], n)
	return b
}

func lastEOCD(b []byte) int64 { return int64(bytes.LastIndex(b, []byte(eocdSig))) }

// TestEOCDChoice: the end record each reader picks (issue 16, class 2), by
// the rules of miniz 3.0.2's mz_zip_reader_locate_header_sig and CPython
// 3.11's zipfile._EndRecData.
func TestEOCDChoice(t *testing.T) {
	z := makeZip(t, [2]string{"a", "x"})
	end := lastEOCD(z)
	cut := []byte("PK\x05\x06\x00\x00\x00") // a signature with fewer than 22 bytes after it
	far := make([]byte, 0, 70000)           // a second record 66 000 bytes before the end
	far = append(far, z...)
	far = append(far, make([]byte, 66000)...)
	cases := []struct {
		name          string
		data          []byte
		miniz, zipf   int64 // -1: no record
		minizOK, zfOK bool
	}{
		{"plain", z, end, end, true, true},
		{"comment length lies", withComment(z, end, 1000), end, end, true, true},
		{"cut signature at the end", append(bytes.Clone(z), cut...), end, -1, true, false},
		{"two records, last without comment", append(bytes.Clone(z), z[end:]...), int64(len(z)), int64(len(z)), true, true},
		{"record in the comment", append(withComment(z, end, 22), z[end:]...), int64(len(z)), int64(len(z)), true, true},
		{"only miniz reaches it", far, end, -1, true, false},
		{"too short", []byte("PK\x05\x06"), -1, -1, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, n := bytes.NewReader(c.data), int64(len(c.data))
			m, mok := minizEOCD(r, n)
			p, pok := zipfileEOCD(r, n)
			if mok != c.minizOK || (mok && m != c.miniz) {
				t.Errorf("miniz: %d %v, want %d %v", m, mok, c.miniz, c.minizOK)
			}
			if pok != c.zfOK || (pok && p != c.zipf) {
				t.Errorf("zipfile: %d %v, want %d %v", p, pok, c.zipf, c.zfOK)
			}
		})
	}
}

// TestMinizWindow: miniz searches back in 4096-byte windows, each 4093 bytes
// before the last, and stops after the window that starts 65557 or more
// bytes before the end: a record is found exactly when it starts no more than
// 69584 bytes before the end.
func TestMinizWindow(t *testing.T) {
	for _, back := range []int64{22, 4096, 65557, 65558, 69584, 69585, 70000} {
		data := make([]byte, 80000)
		copy(data[int64(len(data))-back:], eocdSig)
		off, ok := minizEOCD(bytes.NewReader(data), int64(len(data)))
		want := back <= minizReach
		if ok != want || (ok && off != int64(len(data))-back) {
			t.Errorf("record %d bytes before the end: found %v at %d, want %v", back, ok, off, want)
		}
		_, zok := zipfileEOCD(bytes.NewReader(data), int64(len(data)))
		if zwant := back <= zipfileReach; zok != zwant {
			t.Errorf("zipfile, record %d bytes before the end: found %v, want %v", back, zok, zwant)
		}
	}
}

// TestScanZipReaders: the archive scanned is the one the loaders read, and
// what no record accounts for is reported.
func TestScanZipReaders(t *testing.T) {
	good := makeZip(t, [2]string{"archive/data.pkl", "\x80\x02}q\x00."}, [2]string{"archive/version", "3\n"})
	bad := makeZip(t, [2]string{"archive/data.pkl", "cposix\nsystem\n(S'id'\ntR."}, [2]string{"archive/version", "3\n"})
	// bad with offsets that count good in front of it
	shifted := func(prefix, z []byte) []byte {
		out := append(bytes.Clone(prefix), z...)
		e := int64(len(prefix)) + lastEOCD(z)
		cdOff := int64(binary.LittleEndian.Uint32(out[e+16:]))
		binary.LittleEndian.PutUint32(out[e+16:], uint32(cdOff+int64(len(prefix))))
		for p := int64(len(prefix)) + cdOff; p < e; {
			h := out[p:]
			binary.LittleEndian.PutUint32(h[42:], binary.LittleEndian.Uint32(h[42:])+uint32(len(prefix)))
			p += 46 + int64(binary.LittleEndian.Uint16(h[28:])+binary.LittleEndian.Uint16(h[30:])+binary.LittleEndian.Uint16(h[32:]))
		}
		return out
	}
	gEnd := lastEOCD(good)
	both := shifted(good, bad)
	cases := []struct {
		name string
		data []byte
		want []string // rules that must be there
		not  []string
	}{
		{"one archive", good, nil, []string{RuleMultipleEOCD, RuleUnaccounted, RuleReaders, "pickle/global-not-allowed"}},
		{"good whose comment covers bad, bad's comment lies (old reader took good)",
			withComment(append(withComment(good, gEnd, uint16(len(both)-len(good))), both[len(good):]...), int64(len(both))-22, 1000),
			[]string{RuleMultipleEOCD, "zip/prefix", RuleComment, "pickle/global-not-allowed"}, nil},
		{"bad then a cut record: zipfile refuses, miniz reads bad",
			append(withComment(both, gEnd, uint16(len(both)-len(good)+7)), "PK\x05\x06\x00\x00\x00"...),
			[]string{RuleReaders, RuleMultipleEOCD, RuleUnaccounted, "pickle/global-not-allowed"}, nil},
		{"bytes after the end record", append(bytes.Clone(good), "hidden payload"...), []string{RuleUnaccounted}, []string{RuleMultipleEOCD}},
		{"a gap between entries", func() []byte {
			// move the directory: insert bytes before it and fix its offset
			e := lastEOCD(good)
			cd := int64(binary.LittleEndian.Uint32(good[e+16:]))
			out := append(append(bytes.Clone(good[:cd]), "gap!"...), good[cd:]...)
			binary.LittleEndian.PutUint32(out[e+4+16:], uint32(cd+4))
			return out
		}(), []string{RuleUnaccounted}, nil},
		{"bad with relative offsets after good: only zipfile reads bad", append(bytes.Clone(good), bad...),
			[]string{RuleReaders, "pickle/global-not-allowed"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fs scan.Findings
			err := ScanZip(context.Background(), ctxFor(t), bytes.NewReader(c.data), int64(len(c.data)), &fs)
			got := rules(fs)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("no %s in %v (err %v)", w, fs, err)
				}
			}
			for _, w := range c.not {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %s in %v", w, fs)
				}
			}
		})
	}
}

// TestZipReadersMatchRecorded holds minizEOCD and zipfileEOCD to the real
// readers: testdata/zip_readers.json records, for an end record BACK bytes
// before the end of a torch.save zip padded with zeros, whether torch 2.8's
// torch.load (miniz) and CPython's zipfile found it.
func TestZipReadersMatchRecorded(t *testing.T) {
	b, err := os.ReadFile("../testdata/zip_readers.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Back  int64 `json:"back"`
		Miniz bool  `json:"miniz_found"`
		Zipf  bool  `json:"zipfile_found"`
	}
	if err := json.Unmarshal(b, &cases); err != nil || len(cases) < 5 {
		t.Fatalf("%v (%d cases)", err, len(cases))
	}
	z := makeZip(t, [2]string{"archive/data.pkl", "\x80\x02}q\x00."})
	for _, c := range cases {
		data := append(bytes.Clone(z), make([]byte, c.Back-eocdLen)...)
		_, m := minizEOCD(bytes.NewReader(data), int64(len(data)))
		_, p := zipfileEOCD(bytes.NewReader(data), int64(len(data)))
		if m != c.Miniz || p != c.Zipf {
			t.Errorf("end record %d bytes before the end: miniz %v zipfile %v, the real readers %v %v", c.Back, m, p, c.Miniz, c.Zipf)
		}
	}
}
