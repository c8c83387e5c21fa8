package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// referenceCheck is an independent, simpler statement of what a clean file
// is: the header is one JSON object of tensor entries with exactly dtype,
// shape and data_offsets (plus string metadata), whose byte ranges have the
// right sizes and tile the data exactly.
func referenceCheck(data []byte) error {
	n := binary.LittleEndian.Uint64(data)
	hdr := data[8 : 8+n]
	var top map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &top); err != nil {
		return err
	}
	type span struct{ b, e uint64 }
	var spans []span
	for k, v := range top {
		if k == "__metadata__" {
			var m map[string]string
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("metadata: %v", err)
			}
			continue
		}
		var e struct {
			Dtype       string    `json:"dtype"`
			Shape       *[]uint64 `json:"shape"`
			DataOffsets *[]uint64 `json:"data_offsets"`
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Shape == nil || e.DataOffsets == nil || len(*e.DataOffsets) != 2 {
			return fmt.Errorf("entry %q: %v", k, err)
		}
		bitsize, ok := dtypeBits[e.Dtype]
		if !ok {
			return fmt.Errorf("dtype %q", e.Dtype)
		}
		nbits := bitsize
		for _, d := range *e.Shape {
			if d != 0 && nbits > (1<<63)/d {
				return fmt.Errorf("overflow")
			}
			nbits *= d
		}
		o := *e.DataOffsets
		if nbits%8 != 0 || o[1] < o[0] || o[1]-o[0] != nbits/8 {
			return fmt.Errorf("entry %q: size", k)
		}
		spans = append(spans, span{o[0], o[1]})
	}
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].b < spans[j].b || spans[i].b == spans[j].b && spans[i].e < spans[j].e
	})
	var next uint64
	for _, s := range spans {
		if s.b != next {
			return fmt.Errorf("not contiguous at %d", s.b)
		}
		next = s.e
	}
	if next != uint64(len(data))-8-n {
		return fmt.Errorf("data ends at %d of %d", next, uint64(len(data))-8-n)
	}
	return nil
}

// FuzzScan: Scan never panics, stays within small limits, fails only with
// errors that wrap scan.ErrUnscannable, reports offsets inside the file, and
// whatever it finds clean passes the independent referenceCheck.
func FuzzScan(f *testing.F) {
	f.Add(realFile)
	f.Add(polyglot())
	f.Add(stFile(`{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]},"__metadata__":{"k":"v"}}`, "xx"))
	f.Add(stFile(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]}}`, "PAYLOADPAYLOADPAYLOAD"))
	base := testContext(f)
	base.Limits.MaxHeaderSize = 64 << 10
	base.Limits.MaxMemberSize = 64 << 10
	base.Limits.MaxPickleOps = 100_000
	base.Limits.MaxStack = 10_000
	base.Limits.MaxMemo = 10_000
	base.Limits.MaxMemoReads = 100_000
	f.Fuzz(func(t *testing.T, data []byte) {
		c := *base
		var fs scan.Findings
		err := Scan(context.Background(), &c, bytes.NewReader(data), int64(len(data)), &fs)
		if err != nil && !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("error %v does not wrap ErrUnscannable", err)
		}
		for _, f := range fs {
			if f.Offset < 0 || f.Offset > int64(len(data)) {
				t.Fatalf("finding offset %d outside the file of %d bytes: %v", f.Offset, len(data), f)
			}
		}
		if err == nil && len(fs) == 0 {
			if rerr := referenceCheck(data); rerr != nil {
				t.Fatalf("clean, but the reference check fails: %v", rerr)
			}
		}
	})
}
