package digest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
)

// BufferSize is the read size of every worker. 1 MiB matches the block size at
// which SHA-256 throughput is measured (openssl speed -bytes 1048576).
const BufferSize = 1 << 20

// ErrChanged is returned when a file differs, while or after it is hashed, from
// what the walk saw (size, type, or identity).
var ErrChanged = errors.New("file changed while hashing")

// Task is one unit of hashing: Length bytes of the file at Path starting at
// Offset. Size is the file size the caller saw when it listed the file; the
// file must still have exactly that size when it is opened and when the task
// ends, or the task fails with ErrChanged.
type Task struct {
	Path     string
	Offset   int64
	Length   int64
	Size     int64
	NoFollow bool // open with O_NOFOLLOW: a symlink swapped in after the walk is an error
}

// Stats says how much work a Run did.
type Stats struct {
	Tasks int
	Bytes int64
}

// Run hashes every task with algorithm, using workers goroutines (0 means one
// per CPU). It returns the digests in task order. The first error cancels the
// remaining work and is returned wrapped with the path it concerns. Run is
// safe to call concurrently.
func Run(ctx context.Context, algorithm string, tasks []Task, workers int) ([][]byte, Stats, error) {
	if _, err := New(algorithm); err != nil {
		return nil, Stats{}, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > len(tasks) {
		workers = len(tasks)
	}
	out := make([][]byte, len(tasks))
	// Longest tasks first: the workers finish together (a 3 GiB file's last
	// shard does not start when every other worker is done).
	order := make([]int, len(tasks))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tasks[order[a]].Length > tasks[order[b]].Length })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		next     atomic.Int64
		bytes    atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, BufferSize)
			h, _ := New(algorithm)
			// A file truncated while it is mapped faults (SIGBUS): make that a
			// panic that hashTask recovers into ErrChanged, not a crash.
			debug.SetPanicOnFault(true)
			for {
				j := int(next.Add(1) - 1)
				if j >= len(tasks) || ctx.Err() != nil {
					return
				}
				i := order[j]
				h.Reset()
				n, err := hashTask(ctx, h, buf, tasks[i])
				bytes.Add(n)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				out[i] = h.Sum(nil)
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, Stats{}, firstErr
	}
	return out, Stats{Tasks: len(tasks), Bytes: bytes.Load()}, nil
}

func hashTask(ctx context.Context, h io.Writer, buf []byte, t Task) (int64, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK // never block opening a FIFO swapped in after the walk
	if t.NoFollow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(t.Path, flags, 0)
	if err != nil {
		return 0, fmt.Errorf("open %q: %w", t.Path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %q: %w", t.Path, err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%q: %w: no longer a regular file", t.Path, ErrChanged)
	}
	if st.Size() != t.Size {
		return 0, fmt.Errorf("%q: %w: size %d, listed as %d", t.Path, ErrChanged, st.Size(), t.Size)
	}
	if t.Length >= mapMin {
		n, err := hashMapped(ctx, h, f, t)
		if err == nil || !errors.Is(err, errNoMap) {
			if err != nil {
				return n, err
			}
			return n, recheck(f, st, t)
		}
	}
	var done int64
	for done < t.Length {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		want := min(int64(len(buf)), t.Length-done)
		n, err := f.ReadAt(buf[:want], t.Offset+done)
		h.Write(buf[:n])
		done += int64(n)
		if err == io.EOF && done < t.Length {
			return done, fmt.Errorf("%q: %w: ended at byte %d, listed size %d", t.Path, ErrChanged, t.Offset+done, t.Size)
		}
		if err != nil && err != io.EOF {
			return done, fmt.Errorf("read %q: %w", t.Path, err)
		}
	}
	return done, recheck(f, st, t)
}

// recheck fails when the file's size or modification time changed while it
// was hashed.
func recheck(f *os.File, st os.FileInfo, t Task) error {
	st2, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %q: %w", t.Path, err)
	}
	if st2.Size() != t.Size || !st2.ModTime().Equal(st.ModTime()) {
		return fmt.Errorf("%q: %w: size or modification time changed", t.Path, ErrChanged)
	}
	return nil
}
