package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

const (
	hashBufSize   = 1 << 20
	hashBufs      = 4
	writebackStep = 8 << 20
)

// copyHashed copies r into f while a second goroutine hashes what was
// written (SHA-256 is the slowest step of an extraction; this overlaps it
// with reading and writing), and asks the kernel to start writing the file
// back every few MiB so that a later fsync has little left to do. It returns
// the bytes copied and their hex SHA-256.
func copyHashed(f *os.File, r io.Reader) (int64, string, error) {
	free := make(chan []byte, hashBufs)
	for i := 0; i < hashBufs; i++ {
		free <- make([]byte, hashBufSize)
	}
	full := make(chan []byte, hashBufs)
	done := make(chan string)
	go func() {
		h := sha256.New()
		for b := range full {
			h.Write(b)
			free <- b[:cap(b)]
		}
		done <- hex.EncodeToString(h.Sum(nil))
	}()
	var n, synced int64
	var err error
	for {
		buf := <-free
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, werr := f.Write(buf[:k]); werr != nil {
				err = werr
				full <- buf[:0]
				break
			}
			n += int64(k)
			full <- buf[:k]
			if n-synced >= writebackStep {
				startWriteback(f, synced, n-synced)
				synced = n
			}
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(full)
	sum := <-done
	return n, sum, err
}
