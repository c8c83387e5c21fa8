package numpy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// npyFile builds a .npy file: magic, version, header length, header (padded
// with spaces to a multiple of 64 and ended by '\n', as np.save does) and body.
func npyFile(major byte, header, body string) []byte {
	pre := 10
	if major > 1 {
		pre = 12
	}
	header += "\n"
	if pad := (64 - (pre+len(header))%64) % 64; pad > 0 {
		header = header[:len(header)-1] + strings.Repeat(" ", pad) + "\n"
	}
	var b bytes.Buffer
	b.WriteString(Magic)
	b.Write([]byte{major, 0})
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(header)))
	}
	b.WriteString(header)
	b.WriteString(body)
	return b.Bytes()
}

// statsPickle is the body np.save (numpy 2.4) writes for
// np.array({"mel_mean": zeros(2, f4), "mel_std": ones(2, f4),
// "audio_config": {"sample_rate": 22050}}, dtype=object): a coqui
// scale_stats.npy.
var statsPickle = mustHex("" +
	"80049532010000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079" +
	"948c076e6461727261799493944b0085944301629487945294284b012968038c0564747970659493948c024f3894898887945294284b038c017c944e" +
	"4e4e4affffffff4affffffff4b3f749462895d947d94288c086d656c5f6d65616e94680268054b008594680787945294284b014b028594680b8c0266" +
	"3494898887945294284b038c013c944e4e4e4affffffff4affffffff4b007494628943080000000000000000947494628c076d656c5f737464946802" +
	"68054b008594680787945294284b014b028594681a8943080000803f0000803f947494628c0c617564696f5f636f6e666967947d948c0b73616d706c" +
	"655f72617465944d22567375617494622e")

const (
	osSystem   = "cos\nsystem\n(S'ls'\ntR." // protocol 0 GLOBAL os.system + REDUCE
	objectHdr  = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
	float6Hdr  = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	float6Body = "012345678901234567890123"
)

func mustHex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func testContext(t testing.TB) *scan.Context {
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
}

func scanNpy(t testing.TB, data []byte) (scan.Findings, error) {
	var fs scan.Findings
	err := ScanNpy(context.Background(), testContext(t), bytes.NewReader(data), int64(len(data)), &fs)
	return fs, err
}

func TestScanNpy(t *testing.T) {
	v1 := func(h, b string) []byte { return npyFile(1, h, b) }
	v4 := npyFile(2, float6Hdr, float6Body)
	v4[6] = 4 // version 4.0 does not exist
	tests := []struct {
		name       string
		data       []byte
		unscanable bool
		rules      []string // rules of the findings, in order
		offsets    []int64  // their offsets, when checked
	}{
		{name: "float32 2x3", data: v1(float6Hdr, float6Body)},
		{name: "version 2", data: npyFile(2, float6Hdr, float6Body)},
		{name: "version 3 utf-8 field name", data: npyFile(3, "{'descr': [('\u00e9', '<f4')], 'fortran_order': False, 'shape': (1,), }", "abcd")},
		{name: "bool", data: v1("{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }", "\x01")},
		{name: "unicode", data: v1("{'descr': '<U3', 'fortran_order': True, 'shape': (1,), }", strings.Repeat("x", 12))},
		{name: "datetime", data: v1("{'descr': '<M8[D]', 'fortran_order': False, 'shape': (1,), }", "12345678")},
		{name: "structured with subarray", data: v1("{'descr': [('a', '<f4'), ('b', '<i8', (2,))], 'fortran_order': False, 'shape': (2,), }", strings.Repeat("x", 40))},
		{name: "zero-size", data: v1("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5), }", "")},
		{name: "scalar", data: v1("{'shape': (), 'fortran_order': False, 'descr': '<i8'}", "12345678")},
		{name: "python 2 long", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", float6Body)},
		{name: "bool dimension", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': (True, 6), }", float6Body)},
		{name: "trailing data", data: v1(float6Hdr, float6Body+"PAYLOAD"),
			rules: []string{RuleTrailingData}, offsets: []int64{128 + 24}},
		{name: "data too short", data: v1(float6Hdr, float6Body[:10]), unscanable: true},
		{name: "huge shape", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 99999999999999999999), }", ""), unscanable: true},
		{name: "object scale_stats", data: v1(objectHdr, statsPickle),
			rules: []string{RuleObjectArray}, offsets: []int64{128}},
		{name: "object os.system", data: v1(objectHdr, osSystem),
			rules: []string{RuleObjectArray, "pickle/global-not-allowed"}, offsets: []int64{128, 128}},
		{name: "structured object field", data: v1("{'descr': [('a', '<f4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,), }", osSystem),
			rules: []string{RuleObjectArray, "pickle/global-not-allowed"}},
		{name: "object trailing after pickle", data: v1(objectHdr, statsPickle+"cos\nsystem\n."),
			rules: []string{RuleObjectArray, RuleTrailingData}, offsets: []int64{128, 128 + int64(len(statsPickle))}},
		{name: "object truncated pickle", data: v1(objectHdr, "\x80\x02}q\x00"), unscanable: true,
			rules: []string{RuleObjectArray}},
		{name: "object empty body", data: v1(objectHdr, ""), unscanable: true, rules: []string{RuleObjectArray}},
		{name: "duplicate key", data: v1("{'descr': '|O', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", float6Body),
			rules: []string{RuleDuplicateKey}},
		{name: "duplicate key hides object", data: v1("{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': ()}", osSystem),
			rules: []string{RuleDuplicateKey, RuleObjectArray, "pickle/global-not-allowed"}},
		{name: "bad magic", data: []byte("\x93NUMPX\x01\x00\x00\x00"), unscanable: true},
		{name: "short", data: []byte("\x93NUMPY\x01"), unscanable: true},
		{name: "version 4.0", data: v4, unscanable: true},
		{name: "header past end", data: []byte("\x93NUMPY\x01\x00\xff\x00{}"), unscanable: true},
		{name: "missing key", data: v1("{'descr': '<f4', 'shape': (2, 3), }", float6Body), unscanable: true},
		{name: "extra key", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", float6Body), unscanable: true},
		{name: "shape list", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", float6Body), unscanable: true},
		{name: "shape parenthesised int", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", float6Body), unscanable: true},
		{name: "negative shape", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", float6Body), unscanable: true},
		{name: "fortran not bool", data: v1("{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", float6Body), unscanable: true},
		{name: "unknown dtype", data: v1("{'descr': 'float32', 'fortran_order': False, 'shape': (6,)}", float6Body), unscanable: true},
		{name: "comment in header", data: v1("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} # x", float6Body), unscanable: true},
		{name: "call in header", data: v1("{'descr': __import__('os'), 'fortran_order': False, 'shape': (6,)}", float6Body), unscanable: true},
		{name: "long suffix in version 3", data: npyFile(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (6L,)}", float6Body), unscanable: true},
		{name: "invalid utf-8 in version 3", data: npyFile(3, "{'descr': [('\xff', '<f4')], 'fortran_order': False, 'shape': (6,)}", float6Body), unscanable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := scanNpy(t, tt.data)
			if tt.unscanable != (err != nil) {
				t.Fatalf("err = %v, want unscannable %v (findings %v)", err, tt.unscanable, fs)
			}
			if err != nil && !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("error %v does not wrap ErrUnscannable", err)
			}
			var rules []string
			for _, f := range fs {
				rules = append(rules, f.Rule)
			}
			if strings.Join(rules, ",") != strings.Join(tt.rules, ",") {
				t.Fatalf("rules %v, want %v (%v)", rules, tt.rules, fs)
			}
			for i, off := range tt.offsets {
				if fs[i].Offset != off {
					t.Errorf("finding %d offset %d, want %d (%v)", i, fs[i].Offset, off, fs[i])
				}
			}
		})
	}
}

func TestScanNpyLimits(t *testing.T) {
	c := testContext(t)
	c.Limits.MaxHeaderSize = 32
	data := npyFile(1, float6Hdr, float6Body)
	var fs scan.Findings
	if err := ScanNpy(context.Background(), c, bytes.NewReader(data), int64(len(data)), &fs); !errors.Is(err, scan.ErrUnscannable) {
		t.Fatalf("header over the limit: err = %v", err)
	}
	c = testContext(t)
	c.Limits.MaxMemberSize = 8
	data = npyFile(1, objectHdr, osSystem)
	if err := ScanNpy(context.Background(), c, bytes.NewReader(data), int64(len(data)), &fs); !errors.Is(err, scan.ErrUnscannable) {
		t.Fatalf("object body over the limit: err = %v", err)
	}
}

func TestReadHeader(t *testing.T) {
	data := npyFile(1, "{'descr': [('a', '<f4'), (('title', 'b'), '<i2', 3)], 'fortran_order': True, 'shape': (4, 5), }", "")
	h, err := ReadHeader(bytes.NewReader(data), int64(len(data)), 1<<20, &scan.Findings{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Major != 1 || h.DataOffset != 128 || !h.Fortran || h.Object || len(h.Shape) != 2 ||
		h.Shape[0].Int64() != 4 || h.Shape[1].Int64() != 5 || h.DataSize.Int64() != 20*(4+6) {
		t.Fatalf("header %+v, size %v", h, h.DataSize)
	}
}
