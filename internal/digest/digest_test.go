package digest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunMatchesSHA256(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 300000) // 4.8 MB: several buffers
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	size := int64(len(data))
	tasks := []Task{
		{Path: p, Length: size, Size: size},
		{Path: p, Offset: 0, Length: 1 << 20, Size: size},
		{Path: p, Offset: 1 << 20, Length: size - 1<<20, Size: size},
		{Path: p, Offset: size, Length: 0, Size: size},
	}
	sums, st, err := Run(context.Background(), SHA256, tasks, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{sum(data), sum(data[:1<<20]), sum(data[1<<20:]), sum(nil)}
	for i := range want {
		if !bytes.Equal(sums[i], want[i]) {
			t.Errorf("task %d: digest mismatch", i)
		}
	}
	if st.Bytes != 2*size || st.Tasks != 4 {
		t.Errorf("stats %+v", st)
	}
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestRunDetectsChanges(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("hello"), 0o644)
	// The walk saw 10 bytes; the file now has 5: changed, not hashed as if complete.
	if _, _, err := Run(context.Background(), SHA256, []Task{{Path: p, Length: 10, Size: 10}}, 1); !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
	// A symlink swapped in after the walk is refused with NoFollow.
	l := filepath.Join(dir, "l")
	os.Symlink(p, l)
	if _, _, err := Run(context.Background(), SHA256, []Task{{Path: l, Length: 5, Size: 5, NoFollow: true}}, 1); err == nil {
		t.Fatal("symlink followed")
	}
	// A missing file names its path.
	_, _, err := Run(context.Background(), SHA256, []Task{{Path: filepath.Join(dir, "gone"), Length: 1, Size: 1}}, 1)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("gone")) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Run(ctx, SHA256, []Task{{Path: p, Length: 5, Size: 5}}, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, _, err := Run(context.Background(), "md5", nil, 1); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Fatalf("md5: %v", err)
	}
}

func TestParse(t *testing.T) {
	d, err := Parse("sha256:" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	if err != nil || d.Algorithm != SHA256 || d.String()[:9] != "sha256:00" {
		t.Fatal(d, err)
	}
	for _, bad := range []string{"sha256", "sha256:zz", "sha256:00", "md5:00"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func BenchmarkRun(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "f")
	const size = 64 << 20
	os.WriteFile(p, bytes.Repeat([]byte{7}, size), 0o644)
	var tasks []Task
	for off := int64(0); off < size; off += 8 << 20 {
		tasks = append(tasks, Task{Path: p, Offset: off, Length: 8 << 20, Size: size})
	}
	b.SetBytes(size)
	for b.Loop() {
		if _, _, err := Run(context.Background(), SHA256, tasks, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTruncatedWhileHashing: a file cut after it was opened, while its task
// is being hashed on one of two lanes, is an ErrChanged error that names it,
// not a digest of what was left.
func TestTruncatedWhileHashing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cut")
	q := filepath.Join(dir, "intact")
	for _, f := range []string{p, q} {
		if err := os.WriteFile(f, bytes.Repeat([]byte{1}, 8<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lanes := []lane{{h: sha256.New()}, {h: sha256.New()}}
	if err := lanes[0].start(Task{Path: q, Length: 8 << 20, Size: 8 << 20}, 0, &sync.Map{}); err != nil {
		t.Fatal(err)
	}
	if err := lanes[1].start(Task{Path: p, Length: 8 << 20, Size: 8 << 20}, 1, &sync.Map{}); err != nil {
		t.Fatal(err)
	}
	defer lanes[0].release()
	defer lanes[1].release()
	// Hash the first part of both, then cut p.
	for i := range lanes {
		if err := lanes[i].fill(); err != nil {
			t.Fatal(err)
		}
	}
	hashStep(lanes, pairEnabled())
	if err := os.Truncate(p, 1<<20); err != nil {
		t.Fatal(err)
	}
	var err error
	for err == nil && !lanes[1].done() {
		if err = lanes[0].fill(); err == nil {
			if err = lanes[1].fill(); err == nil {
				hashStep(lanes, pairEnabled())
			}
		}
	}
	if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), q) {
		t.Fatalf("err = %v, want ErrChanged naming %s only", err, p)
	}
}

func TestUnalignedShard(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	data := make([]byte, 9<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(p, data, 0o644)
	size := int64(len(data))
	// An unaligned shard start exercises the page alignment.
	sums, _, err := Run(context.Background(), SHA256, []Task{{Path: p, Offset: 1000, Length: size - 1000, Size: size}}, 1)
	if err != nil || !bytes.Equal(sums[0], sum(data[1000:])) {
		t.Fatalf("digest of an unaligned shard differs: %v", err)
	}
}

func TestRunRejectsBadRanges(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	for _, task := range []Task{
		{Path: p, Length: -1, Size: 10},
		{Path: p, Offset: -1, Length: 2, Size: 10},
		{Path: p, Offset: 8, Length: 3, Size: 10},
		{Path: p, Offset: 11, Length: 0, Size: 10},
		{Path: p, Offset: 1, Length: 1<<63 - 1, Size: 10},
	} {
		if _, _, err := Run(context.Background(), SHA256, []Task{task}, 1); err == nil || !strings.Contains(err.Error(), "not a range") {
			t.Errorf("%+v: err = %v", task, err)
		}
	}
}

// TestOneVersionPerRun: the shards of one file must come from one version of
// it (inode, size, modification time); a hard link added meanwhile (which
// moves only the change time, as the store does to blobs) is not a change.
func TestOneVersionPerRun(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte{1}, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	st0, _ := os.Stat(p)
	var seen sync.Map
	lanes := []lane{{h: sha256.New()}, {h: sha256.New()}, {h: sha256.New()}}
	a, b, c := &lanes[0], &lanes[1], &lanes[2]
	if err := a.start(Task{Path: p, Length: 400, Size: 1000}, 0, &seen); err != nil {
		t.Fatal(err)
	}
	defer a.release()
	if err := os.Link(p, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o444)
	if err := b.start(Task{Path: p, Offset: 400, Length: 300, Size: 1000}, 1, &seen); err != nil {
		t.Fatalf("a hard link and a chmod are not changes: %v", err)
	}
	b.release()
	// A rewrite of the same size, with a new modification time.
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt([]byte{2}, 10)
	f.Close()
	os.Chtimes(p, st0.ModTime().Add(time.Second), st0.ModTime().Add(time.Second))
	if err := c.start(Task{Path: p, Offset: 700, Length: 300, Size: 1000}, 2, &seen); !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "shards") {
		t.Fatalf("third shard of a rewritten file: %v", err)
	}
	if err := a.fill(); err != nil {
		t.Fatal(err)
	}
	hashStep(lanes[:1], false)
	if _, err := a.finish(); !errors.Is(err, ErrChanged) {
		t.Fatalf("rewritten while hashed: %v", err)
	}
}

// TestHardLinksAreNotChanges: the store adds and removes hard links to blobs
// (and chmods them) while other processes verify them; none of that is a
// change to the bytes.
func TestHardLinksAreNotChanges(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "blob")
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB: several reads per lane
	if err := os.WriteFile(p, data, 0o444); err != nil {
		t.Fatal(err)
	}
	size := int64(len(data))
	var tasks []Task
	for off := int64(0); off < size; off += 16 << 20 {
		tasks = append(tasks, Task{Path: p, Offset: off, Length: 16 << 20, Size: size})
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l := filepath.Join(dir, fmt.Sprintf("link%d", i%3))
			os.Link(p, l)
			os.Chmod(p, 0o444)
			os.Remove(l)
		}
	}()
	for i := 0; i < 5; i++ {
		if _, _, err := Run(context.Background(), SHA256, tasks, 2); err != nil {
			close(stop)
			<-done
			t.Fatalf("round %d: %v", i, err)
		}
	}
	close(stop)
	<-done
}
