package digest

import (
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"syscall"
)

// A lane streams the bytes of one task into its hash through a read buffer
// of BufferSize bytes.
//
// Memory maps were tried and dropped: with two lanes per worker, reads into
// 256 KiB buffers (which stay in the L2 cache for the hash) are as fast as
// 8 MiB maps, whose mapped page-cache pages count in RSS (60 vs 30 MiB on
// the 4 GiB benchmark, growing with the number of cores); and a read needs no
// SIGBUS handling when a file is cut while it is hashed (docs/BENCHMARKS.md).
type lane struct {
	t      Task
	idx    int // index of t in Run's tasks
	f      *os.File
	id     fileID // the file as opened
	h      hash.Hash
	buf    []byte // read buffer, allocated on first use
	chunk  []byte // loaded bytes not yet hashed
	loaded int64  // bytes of the task loaded so far (hashed + chunk)
	fed    int64  // bytes written into h
	busy   bool
}

// start opens t and checks that it is still the regular file of size t.Size
// that the caller listed, and the same file (inode, size, modification and
// change times) as every other task of this Run on that path saw.
func (l *lane) start(t Task, idx int, seen *sync.Map) error {
	flags := os.O_RDONLY | syscall.O_NONBLOCK // never block opening a FIFO swapped in after the walk
	if t.NoFollow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(t.Path, flags, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", t.Path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %q: %w", t.Path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("%q: %w: no longer a regular file", t.Path, ErrChanged)
	}
	if st.Size() != t.Size {
		f.Close()
		return fmt.Errorf("%q: %w: size %d, listed as %d", t.Path, ErrChanged, st.Size(), t.Size)
	}
	id := idOf(st)
	if prev, loaded := seen.LoadOrStore(t.Path, id); loaded && prev.(fileID) != id {
		f.Close()
		return fmt.Errorf("%q: %w between two of its shards", t.Path, ErrChanged)
	}
	l.t, l.idx, l.f, l.id = t, idx, f, id
	l.h.Reset()
	l.chunk, l.loaded, l.fed = nil, 0, 0
	l.busy = true
	return nil
}

// done reports whether every byte of the task is in the hash.
func (l *lane) done() bool { return l.loaded == l.t.Length && len(l.chunk) == 0 }

// fill reads the next part of the task once the current one is hashed.
func (l *lane) fill() error {
	if len(l.chunk) > 0 || l.loaded == l.t.Length {
		return nil
	}
	off := l.t.Offset + l.loaded
	if l.buf == nil {
		l.buf = make([]byte, BufferSize)
	}
	want := min(int64(len(l.buf)), l.t.Length-l.loaded)
	n, err := l.f.ReadAt(l.buf[:want], off)
	if err == io.EOF && int64(n) < want {
		return fmt.Errorf("%q: %w: ended at byte %d, listed size %d", l.t.Path, ErrChanged, off+int64(n), l.t.Size)
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("read %q: %w", l.t.Path, err)
	}
	l.chunk = l.buf[:n]
	l.loaded += int64(n)
	return nil
}

// consume marks the first n bytes of the chunk as hashed.
func (l *lane) consume(n int) {
	l.chunk = l.chunk[n:]
	l.fed += int64(n)
}

// writeChunk hashes the whole chunk on this lane alone.
func (l *lane) writeChunk() {
	l.h.Write(l.chunk)
	l.consume(len(l.chunk))
}

// finish checks that the file did not change while it was hashed and returns
// the digest.
func (l *lane) finish() ([]byte, error) {
	err := recheck(l.f, l.id, l.t)
	l.release()
	if err != nil {
		return nil, err
	}
	return l.h.Sum(nil), nil
}

// release drops the task and closes its file.
func (l *lane) release() {
	if !l.busy {
		return
	}
	l.f.Close()
	l.f, l.chunk, l.busy = nil, nil, false
}

// hashStep hashes what the lanes have loaded: whole blocks of two lanes
// together when pairing is on, the rest lane by lane. It returns how many
// bytes it hashed two lanes at a time.
func hashStep(lanes []lane, pair bool) (paired int64) {
	if pair && len(lanes) == 2 && lanes[0].busy && lanes[1].busy {
		a, b := &lanes[0], &lanes[1]
		if n := write2(a.h, b.h, a.chunk, b.chunk); n > 0 {
			a.consume(n)
			b.consume(n)
			return 2 * int64(n)
		}
		// A lane that cannot pair (a chunk under a block: the end of its
		// task; a partial block already in its hash) goes alone; the other
		// keeps its chunk for the next pairing.
		blocked := false
		for _, l := range []*lane{a, b} {
			if len(l.chunk) < 64 || l.fed%64 != 0 {
				l.writeChunk()
				blocked = true
			}
		}
		if blocked {
			return 0
		}
	}
	for i := range lanes {
		if lanes[i].busy {
			lanes[i].writeChunk()
		}
	}
	return 0
}

// fileID is what tells one version of a file from another without reading
// it: the inode, the size and the modification time. Not the change time
// (ctime): the store adds and removes hard links to blobs and chmods them
// while others verify, which moves the ctime of bytes that did not change.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    syscall.Timespec
}

func idOf(st os.FileInfo) fileID {
	id := fileID{size: st.Size()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino, id.mtime = uint64(s.Dev), s.Ino, s.Mtim
	} else {
		id.mtime = syscall.NsecToTimespec(st.ModTime().UnixNano())
	}
	return id
}

// recheck fails when the file's inode, size or modification time differ
// from when it was opened.
func recheck(f *os.File, id fileID, t Task) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %q: %w", t.Path, err)
	}
	if idOf(st) != id || st.Size() != t.Size {
		return fmt.Errorf("%q: %w: size or modification time changed", t.Path, ErrChanged)
	}
	return nil
}
