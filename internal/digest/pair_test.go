package digest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestPairHardware(t *testing.T) {
	t.Logf("two-lane SHA-256: hardware %v, enabled %v", havePairHardware(), pairEnabled())
	if havePairHardware() && !pairSelfTest() {
		t.Fatal("blocks2 disagrees with crypto/sha256")
	}
}

// TestWrite2 compares two-lane hashing with crypto/sha256 over lengths around
// block boundaries, with and without data already in the hashes.
func TestWrite2(t *testing.T) {
	if !havePairHardware() {
		t.Skip("no SHA extensions on this CPU: Run hashes one task per worker")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 70000)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	lengths := []int{0, 1, 63, 64, 65, 127, 128, 129, 1000, 4096, 65536, 69999}
	for _, pre := range []int{0, 64, 128, 3} {
		for _, la := range lengths {
			for _, lb := range lengths {
				a, b := buf[:la], buf[len(buf)-lb:]
				ha, hb := sha256.New(), sha256.New()
				ha.Write(buf[:pre])
				hb.Write(buf[:pre])
				n := write2(ha, hb, a, b)
				switch {
				case pre%64 != 0 || min(la, lb) < 64:
					if n != 0 {
						t.Fatalf("pre %d, %d/%d: wrote %d, want 0", pre, la, lb, n)
					}
				case n != min(la, lb)/64*64:
					t.Fatalf("pre %d, %d/%d: wrote %d", pre, la, lb, n)
				}
				ha.Write(a[n:])
				hb.Write(b[n:])
				wa := sha256.Sum256(append(append([]byte{}, buf[:pre]...), a...))
				wb := sha256.Sum256(append(append([]byte{}, buf[:pre]...), b...))
				if !bytes.Equal(ha.Sum(nil), wa[:]) || !bytes.Equal(hb.Sum(nil), wb[:]) {
					t.Fatalf("pre %d, %d/%d: digest differs from crypto/sha256", pre, la, lb)
				}
			}
		}
	}
}

// FuzzWrite2: any two inputs, any split, the same digests as crypto/sha256.
func FuzzWrite2(f *testing.F) {
	f.Add([]byte("abc"), []byte("0123456789012345678901234567890123456789012345678901234567890123"), uint8(0))
	f.Fuzz(func(t *testing.T, a, b []byte, pre uint8) {
		if !havePairHardware() {
			t.Skip("no SHA extensions")
		}
		p := int(pre) % (len(a) + 1)
		ha, hb := sha256.New(), sha256.New()
		ha.Write(a[:p])
		n := write2(ha, hb, a[p:], b)
		ha.Write(a[p+n:])
		hb.Write(b[n:])
		wa, wb := sha256.Sum256(a), sha256.Sum256(b)
		if !bytes.Equal(ha.Sum(nil), wa[:]) || !bytes.Equal(hb.Sum(nil), wb[:]) {
			t.Fatalf("digest differs (pre %d, n %d)", p, n)
		}
	})
}

// TestRunLanes: a mix of large, small, tiny, empty and unaligned tasks gives
// crypto/sha256's digests with one and two lanes per worker, whatever the
// number of workers.
func TestRunLanes(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var tasks []Task
	var want [][]byte
	add := func(name string, size int, shards ...[2]int) {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if len(shards) == 0 {
			shards = [][2]int{{0, size}}
		}
		for _, s := range shards {
			tasks = append(tasks, Task{Path: p, Offset: int64(s[0]), Length: int64(s[1]), Size: int64(size)})
			want = append(want, sum(data[s[0]:s[0]+s[1]]))
		}
	}
	add("big", 21<<20+77, [2]int{0, 9<<20 + 5}, [2]int{9<<20 + 5, 12<<20 + 72}, [2]int{100, 5 << 20})
	add("mid", 5<<20+1)
	add("small", 300<<10+3)
	add("tiny", 63)
	add("block", 64)
	add("empty", 0)
	for i := range 7 {
		add("f"+string(rune('a'+i)), rng.IntN(2<<20))
	}
	for _, lanes := range []string{"1", "2"} {
		t.Setenv("TTSGUARD_HASH_LANES", lanes)
		for _, workers := range []int{1, 2, 3} {
			sums, st, err := Run(context.Background(), SHA256, tasks, workers)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if !bytes.Equal(sums[i], want[i]) {
					t.Fatalf("lanes %s, workers %d: task %d (%s +%d) digest differs", lanes, workers, i, filepath.Base(tasks[i].Path), tasks[i].Offset)
				}
			}
			if st.Tasks != len(tasks) {
				t.Fatalf("stats %+v", st)
			}
			// Two lanes pair most of the bytes; one lane pairs none.
			if paired := st.Paired > st.Bytes/2; paired != (lanes == "2" && pairEnabled()) {
				t.Fatalf("lanes %s, workers %d: %d of %d bytes paired", lanes, workers, st.Paired, st.Bytes)
			}
		}
	}
}

// BenchmarkWrite2 and BenchmarkSHA256 compare two interleaved streams with one
// crypto/sha256 stream on one core, over 256 KiB chunks (Run's read size):
// go test -run '^$' -bench 'Write2|SHA256$' -cpu 1 ./internal/digest
func BenchmarkWrite2(b *testing.B) {
	if !pairSupported() {
		b.Skip("no two-lane SHA-256 on this CPU")
	}
	pa, pb := make([]byte, BufferSize), make([]byte, BufferSize)
	ha, hb := sha256.New(), sha256.New()
	b.SetBytes(2 * BufferSize)
	for b.Loop() {
		write2(ha, hb, pa, pb)
	}
}

func BenchmarkSHA256(b *testing.B) {
	p := make([]byte, BufferSize)
	h := sha256.New()
	b.SetBytes(BufferSize)
	for b.Loop() {
		h.Write(p)
	}
}
