package digest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// BufferSize is the read size of every lane. A worker's two buffers (512 KiB)
// fit in the L2 cache of current x86 cores (512 KiB on AMD Zen 3, more on
// newer cores), so the copy out of the page cache is still in cache when it
// is hashed (measured: 256 KiB reads beat 1 MiB reads by 20 %,
// docs/BENCHMARKS.md).
const BufferSize = 256 << 10

// ErrChanged is returned when a file differs from what the caller listed
// (size, type), or changes while it is hashed or between two of its shards
// (inode, size, modification time).
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
	Tasks  int
	Bytes  int64
	Paired int64 // of Bytes, those hashed two tasks at a time (two-lane SHA-256)
}

// Run hashes every task with algorithm, using workers goroutines (0 means one
// per CPU). It returns the digests in task order. The first error cancels the
// remaining work and is returned wrapped with the path it concerns. Run is
// safe to call concurrently.
func Run(ctx context.Context, algorithm string, tasks []Task, workers int) ([][]byte, Stats, error) {
	if _, err := New(algorithm); err != nil {
		return nil, Stats{}, err
	}
	for _, t := range tasks {
		if t.Offset < 0 || t.Length < 0 || t.Size < 0 || t.Offset > t.Size-t.Length {
			return nil, Stats{}, fmt.Errorf("hash %q: bytes %d..%d are not a range of a file of %d bytes", t.Path, t.Offset, t.Offset+t.Length, t.Size)
		}
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
		paired   atomic.Int64
		seen     sync.Map // path -> fileID: every task of one file sees one version
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	nlanes := 1
	if algorithm == SHA256 && pairEnabled() {
		nlanes = 2
	}
	// Every worker starts with one task of its own; second lanes take from
	// the rest. (Taking two at once could leave a core idle while another
	// hashes two tasks at 1.9× rather than 2×.)
	next.Store(int64(workers))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lanes := make([]lane, nlanes)
			for i := range lanes {
				lanes[i].h, _ = New(algorithm)
			}
			defer func() {
				for i := range lanes {
					lanes[i].release()
				}
			}()
			if err := work(ctx, lanes, tasks, order, w, &next, &bytes, &paired, &seen, out); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
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
	return out, Stats{Tasks: len(tasks), Bytes: bytes.Load(), Paired: paired.Load()}, nil
}

// work is one worker: it keeps its lanes busy with the next tasks in order
// until none is left, writing each digest to out.
func work(ctx context.Context, lanes []lane, tasks []Task, order []int, first int, next, bytes, paired *atomic.Int64, seen *sync.Map, out [][]byte) error {
	pair := len(lanes) == 2
	if err := lanes[0].start(tasks[order[first]], order[first], seen); err != nil {
		return err
	}
	if err := finishIfDone(&lanes[0], bytes, out); err != nil {
		return err
	}
	for {
		busy := 0
		for i := range lanes {
			l := &lanes[i]
			for !l.busy {
				j := int(next.Add(1) - 1)
				if j >= len(tasks) {
					break
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := l.start(tasks[order[j]], order[j], seen); err != nil {
					return err
				}
				if err := finishIfDone(l, bytes, out); err != nil {
					return err
				}
			}
			if l.busy {
				busy++
			}
		}
		if busy == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range lanes {
			if lanes[i].busy {
				if err := lanes[i].fill(); err != nil {
					return err
				}
			}
		}
		paired.Add(hashStep(lanes, pair))
		for i := range lanes {
			if err := finishIfDone(&lanes[i], bytes, out); err != nil {
				return err
			}
		}
	}
}

// finishIfDone records the digest of a lane whose task is fully hashed.
func finishIfDone(l *lane, bytes *atomic.Int64, out [][]byte) error {
	if !l.busy || !l.done() {
		return nil
	}
	idx, n := l.idx, l.t.Length
	sum, err := l.finish()
	if err != nil {
		return err
	}
	out[idx] = sum
	bytes.Add(n)
	return nil
}
