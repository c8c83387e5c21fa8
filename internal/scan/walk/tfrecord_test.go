package walk

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// record encodes one TFRecord record from the format's definition.
func record(data string) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	b = binary.LittleEndian.AppendUint32(b, maskedCRC(crc32.Checksum(b, castagnoli)))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, maskedCRC(crc32.Checksum([]byte(data), castagnoli)))
}

func records(data ...string) []byte {
	var b []byte
	for _, d := range data {
		b = append(b, record(d)...)
	}
	return b
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

// TestTFRecord: a whole TFRecord stream (TensorBoard's event logs, as
// coqui's trainer leaves them in its run folder) is data, Info; anything
// that is not one to the last byte stays an unknown format, Medium.
func TestTFRecord(t *testing.T) {
	real, err := os.ReadFile("testdata/events.out.tfevents.small") // written by TensorBoard (../config/testdata/gen_trainer.py)
	if err != nil {
		t.Fatal(err)
	}
	three := records("\x09brain.Event:2", "", "\x12\x0a\x0aloss")
	lengthPastEnd := record("abcd")
	binary.LittleEndian.PutUint64(lengthPastEnd, 1000)
	binary.LittleEndian.PutUint32(lengthPastEnd[8:], maskedCRC(crc32.Checksum(lengthPastEnd[:8], castagnoli)))
	tests := []struct {
		name    string
		data    []byte
		records int // 0: not a TFRecord stream
	}{
		{"tensorboard's own file", real, 2},
		{"three records", three, 3},
		{"an empty record", record(""), 1},
		{"a data byte changed", flip(three, 14), 0},
		{"the length's CRC changed", flip(three, 9), 0},
		{"the data's CRC changed", flip(three, len(three)-1), 0},
		{"the last record cut", three[:len(three)-1], 0},
		{"a byte after the last record", append(append([]byte(nil), three...), 0), 0},
		{"a length past the end", lengthPastEnd, 0},
		{"shorter than a record", []byte("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 0},
	}
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scanner{Policy: pol, Limits: scan.DefaultLimits}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tfRecords(context.Background(), bytes.NewReader(tt.data), int64(len(tt.data))); got != tt.records {
				t.Fatalf("tfRecords = %d, want %d", got, tt.records)
			}
			fr := s.Bytes(context.Background(), "events.out.tfevents.1", tt.data)
			wantRule, wantVerdict := "file/unknown-format", Unsafe
			if tt.records > 0 {
				wantRule, wantVerdict = RuleTFRecord, Clean
			}
			if fr.Verdict != wantVerdict || len(fr.Findings) != 1 || fr.Findings[0].Rule != wantRule {
				t.Fatalf("verdict %s %v, want %s with %s", fr.Verdict, fr.Findings, wantVerdict, wantRule)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := tfRecords(ctx, bytes.NewReader(three), int64(len(three))); n != 0 {
		t.Fatalf("a cancelled read found %d records", n)
	}
}
