package walk

import (
	"bufio"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// RuleTFRecord is the Info finding on a TensorBoard event log.
const RuleTFRecord = "file/tfrecord"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C (tensorflow/core/lib/hash/crc32c.h).
func maskedCRC(crc uint32) uint32 {
	return (crc>>15 | crc<<17) + 0xa282ead8
}

// tfRecords reports how many records the size bytes at r hold when they are
// a whole TFRecord stream, as TensorBoard writes its events.out.tfevents.*
// files: records of a little-endian uint64 length, the masked CRC-32C of
// those 8 bytes, the data, and the masked CRC-32C of the data, to the last
// byte. It returns 0 for anything else: no record, a bad CRC, a length past
// the end, a cut last record. It reads the bytes once, in a stream.
func tfRecords(ctx context.Context, r io.ReaderAt, size int64) int {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10)
	h := crc32.New(castagnoli)
	var head [12]byte
	var tail [4]byte
	n := 0
	for left := size; left > 0; n++ {
		if ctx.Err() != nil || left < 16 {
			return 0
		}
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return 0
		}
		length := binary.LittleEndian.Uint64(head[:8])
		if maskedCRC(crc32.Checksum(head[:8], castagnoli)) != binary.LittleEndian.Uint32(head[8:]) ||
			length > uint64(left-16) {
			return 0
		}
		h.Reset()
		if _, err := io.CopyN(h, br, int64(length)); err != nil {
			return 0
		}
		if _, err := io.ReadFull(br, tail[:]); err != nil || maskedCRC(h.Sum32()) != binary.LittleEndian.Uint32(tail[:]) {
			return 0
		}
		left -= 16 + int64(length)
	}
	return n
}
