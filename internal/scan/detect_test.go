package scan

import (
	"archive/tar"
	"bytes"
	"testing"
)

func tarBytes(t *testing.T, format tar.Format) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	if err := w.WriteHeader(&tar.Header{Name: "sys_info", Size: 1, Mode: 0o644, Format: format, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	w.Close()
	return b.Bytes()
}

// TestIsTar: torch.load tries Python's tarfile before unpickling, and tarfile
// takes any block whose checksum adds up, magic or not.
func TestIsTar(t *testing.T) {
	ustar := tarBytes(t, tar.FormatUSTAR)
	v7 := bytes.Clone(ustar)
	copy(v7[257:265], make([]byte, 8)) // no magic, no version: fix the checksum as tarfile computes it
	var sum int64 = 256
	for i, b := range v7[:512] {
		if i < 148 || i >= 156 {
			sum += int64(b)
		}
	}
	copy(v7[148:156], []byte(padOctal(sum)))
	bad := bytes.Clone(ustar)
	bad[0] ^= 1
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{{"ustar", ustar, true}, {"v7 without magic", v7, true}, {"bad checksum", bad, false},
		{"zeros", make([]byte, 1024), false}, {"short", ustar[:511], false}, {"text", bytes.Repeat([]byte("a"), 512), false}} {
		if got := IsTar(c.b); got != c.want {
			t.Errorf("%s: IsTar = %v, want %v", c.name, got, c.want)
		}
	}
	if f := Detect(bytes.NewReader(v7), int64(len(v7))); f != FormatTar {
		t.Errorf("Detect(v7 tar) = %s", f)
	}
}

func padOctal(v int64) string {
	s := []byte("000000\x00 ")
	for i := 5; i >= 0; i-- {
		s[i] = byte('0' + v%8)
		v /= 8
	}
	return string(s)
}

// TestDetectLoaderMagic: only the magic bytes the loaders test make a zip or
// an .npy; a zip with bytes in front is not one to them (the walker reads it
// as what torch's legacy path and np.load's pickle fallback read).
func TestDetectLoaderMagic(t *testing.T) {
	for _, c := range []struct {
		b    string
		want Format
	}{
		{"PK\x03\x04rest", FormatZip}, {"PK\x05\x06" + string(make([]byte, 18)), FormatZip}, {"\x93NUMPY\x01\x00", FormatNpy},
		{"cposix\nsystem\n(S'x'\ntR.\n", FormatText}, {"junk PK\x05\x06" + string(make([]byte, 18)), FormatUnknown},
		{"\x80\x02}.", FormatPickle}, {"\x00\x01binary", FormatUnknown},
	} {
		if got := Detect(bytes.NewReader([]byte(c.b)), int64(len(c.b))); got != c.want {
			t.Errorf("Detect(%q) = %s, want %s", c.b, got, c.want)
		}
	}
}

// FuzzDetect: format detection and the tar header test never panic, and a
// file is a zip or an .npy only by the magic the loaders test.
func FuzzDetect(f *testing.F) {
	f.Add([]byte("PK\x03\x04"))
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Detect(bytes.NewReader(data), int64(len(data)))
		IsTar(data)
		if got == FormatZip && !bytes.HasPrefix(data, []byte("PK\x03\x04")) && !bytes.HasPrefix(data, []byte("PK\x05\x06")) {
			t.Fatalf("zip without its magic: %q", data)
		}
	})
}
