package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func ev(cmd, model string) Event {
	return Event{Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Command: cmd, Model: model, OK: true, User: "uid 0", TTSGuard: "test"}
}

func appendN(t testing.TB, l *Log, n int) *Checkpoint {
	t.Helper()
	var cp *Checkpoint
	for i := 0; i < n; i++ {
		var err error
		if cp, err = l.Append(ev("pull", fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	return cp
}

func logFile(l *Log) string { return filepath.Join(l.Dir, logRecords) }

func TestLogAppendVerify(t *testing.T) {
	l, err := OpenLog(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Verify(nil)
	if err != nil || !r.OK || r.Records != 0 {
		t.Fatalf("empty log: %+v %v", r, err)
	}
	early := appendN(t, l, 3)
	cp := appendN(t, l, 2)
	if cp.Size != 5 || early.Size != 3 {
		t.Fatalf("sizes %d %d", early.Size, cp.Size)
	}
	r, err = l.Verify(early.Note)
	if err != nil || !r.OK || r.Records != 5 || r.Signed != 5 || r.Earlier == nil || *r.Earlier != 3 || r.Problem != "" {
		t.Fatalf("%+v %v", r, err)
	}
	recs, signed, err := l.Records()
	if err != nil || len(recs) != 5 || signed != 5 || recs[4].Index != 4 || recs[4].Model != "m1" || recs[0].Command != "pull" {
		t.Fatalf("%+v %v", recs, err)
	}
	// Reopening uses the same key: the earlier checkpoint still verifies.
	l2, err := OpenLog(filepath.Dir(l.Dir), true)
	if err != nil || l2.VerifierKey() != l.VerifierKey() {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(l.Dir, logKey)); st.Mode().Perm() != 0o600 {
		t.Errorf("signing key mode %04o", st.Mode().Perm())
	}
	if st, _ := os.Stat(l.Dir); st.Mode().Perm() != 0o700 {
		t.Errorf("log folder mode %04o", st.Mode().Perm())
	}
}

// TestLogTamper: every way of changing the history is caught, by the last
// checkpoint or, when the attacker re-signs with the key in the store, by
// an earlier checkpoint kept elsewhere.
func TestLogTamper(t *testing.T) {
	setup := func(t *testing.T) (*Log, []byte) {
		l, err := OpenLog(t.TempDir(), true)
		if err != nil {
			t.Fatal(err)
		}
		early := appendN(t, l, 4)
		return l, early.Note
	}
	resign := func(t *testing.T, l *Log) {
		st, err := l.load(true)
		if err == nil {
			_, err = l.sign(st)
		}
		if err == nil {
			return
		}
		// load refuses a log that does not match: sign what is there.
		os.Remove(filepath.Join(l.Dir, logCheckpoint))
		data, _ := os.ReadFile(logFile(l))
		st = &treeState{}
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			if len(line) > 0 {
				if err := st.add(bytes.TrimSuffix(line, []byte("\n")), true); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := l.sign(st); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(t *testing.T, l *Log, f func(lines []string) []string) {
		data, _ := os.ReadFile(logFile(l))
		lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
		for i := range lines {
			lines[i] = strings.TrimSuffix(lines[i], "\n")
		}
		out := strings.Join(f(lines), "\n") + "\n"
		if err := os.WriteFile(logFile(l), []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reindex := func(lines []string) []string {
		for i := range lines {
			j := strings.Index(lines[i], ",")
			lines[i] = fmt.Sprintf(`{"index":%d`, i) + lines[i][j:]
		}
		return lines
	}
	cases := []struct {
		name   string
		change func(t *testing.T, l *Log)
		// caught by the last checkpoint (false: only by the earlier one)
		byLast bool
	}{
		{"change a record", func(t *testing.T, l *Log) {
			edit(t, l, func(s []string) []string { s[1] = strings.Replace(s[1], `"m1"`, `"mX"`, 1); return s })
		}, true},
		{"remove the last record", func(t *testing.T, l *Log) {
			edit(t, l, func(s []string) []string { return s[:3] })
		}, true},
		{"remove the checkpoint", func(t *testing.T, l *Log) {
			os.Remove(filepath.Join(l.Dir, logCheckpoint))
		}, true},
		{"change a record and re-sign", func(t *testing.T, l *Log) {
			edit(t, l, func(s []string) []string { s[2] = strings.Replace(s[2], `"ok":true`, `"ok":false`, 1); return s })
			resign(t, l)
		}, false},
		{"remove a record, renumber and re-sign", func(t *testing.T, l *Log) {
			edit(t, l, func(s []string) []string { return reindex(append(s[:1], s[2:]...)) })
			resign(t, l)
		}, false},
		{"reorder and re-sign", func(t *testing.T, l *Log) {
			edit(t, l, func(s []string) []string { s[0], s[1] = s[1], s[0]; return reindex(s) })
			resign(t, l)
		}, false},
		{"new key, rewritten log", func(t *testing.T, l *Log) {
			edit(t, l, func(s []string) []string { return s[:2] })
			os.Remove(filepath.Join(l.Dir, logVerifier))
			os.Remove(filepath.Join(l.Dir, logKey))
			l2, err := OpenLog(filepath.Dir(l.Dir), true)
			if err != nil {
				t.Fatal(err)
			}
			resign(t, l2)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, early := setup(t)
			c.change(t, l)
			l, err := OpenLog(filepath.Dir(l.Dir), true)
			if err != nil {
				t.Fatal(err)
			}
			_, err = l.Verify(nil)
			if c.byLast != (err != nil) {
				t.Fatalf("against the last checkpoint: %v", err)
			}
			if c.byLast {
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("err = %v, want ErrTampered", err)
				}
				if _, err := l.Append(ev("rm", "m0")); !errors.Is(err, ErrTampered) {
					t.Fatalf("append to a tampered log: %v", err)
				}
			}
			if _, err := l.Verify(early); !errors.Is(err, ErrTampered) {
				t.Fatalf("against the earlier checkpoint: %v, want ErrTampered", err)
			}
		})
	}
}

// TestLogCrash: a writer killed in the middle of a line, or after the line
// but before signing, leaves a log the next append repairs.
func TestLogCrash(t *testing.T) {
	l, err := OpenLog(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	early := appendN(t, l, 2)
	f, _ := os.OpenFile(logFile(l), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"index":2,"time":"2026-11-26T10:00:00Z","command":"pull","ok":true,"user":"uid 0","ttsguard":"test"}` + "\n")
	f.WriteString(`{"index":3,"time":"2026-11-`)
	f.Close()
	if _, err := l.Verify(nil); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("half-written line: %v", err)
	}
	cp, err := l.Append(ev("check", "m0"))
	if err != nil || cp.Size != 4 {
		t.Fatalf("append after a crash: %+v %v", cp, err)
	}
	r, err := l.Verify(early.Note)
	if err != nil || !r.OK || r.Records != 4 || r.Signed != 4 {
		t.Fatalf("%+v %v", r, err)
	}
	// A complete line not yet signed: reported, not an error.
	f, _ = os.OpenFile(logFile(l), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"index":4,"time":"2026-11-26T10:00:00Z","command":"gc","ok":true,"user":"uid 0","ttsguard":"test"}` + "\n")
	f.Close()
	if r, err := l.Verify(nil); err != nil || !r.OK || r.Records != 5 || r.Signed != 4 || !strings.Contains(r.Problem, "after the last checkpoint") {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestLogConcurrentAppends(t *testing.T) {
	root := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := OpenLog(root, true)
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < 5; i++ {
				_, err := l.Append(ev("pull", fmt.Sprintf("w%d-%d", w, i)))
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, _ := OpenLog(root, true)
	if r, err := l.Verify(nil); err != nil || r.Records != 40 || r.Signed != 40 {
		t.Fatalf("%+v %v", r, err)
	}
}

// FuzzLogVerify: whatever bytes replace a signed log, Verify neither panics
// nor accepts them unless they are the signed log.
func FuzzLogVerify(f *testing.F) {
	root := f.TempDir()
	l, err := OpenLog(root, true)
	if err != nil {
		f.Fatal(err)
	}
	appendN(f, l, 3)
	good, _ := os.ReadFile(logFile(l))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte("{}\n"))
	f.Add(bytes.Replace(good, []byte(`"m1"`), []byte(`"m2"`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(logFile(l), data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := l.Verify(nil)
		if err == nil && !bytes.Equal(data, good) && !(bytes.HasPrefix(data, good) && r.Records > 3) {
			t.Fatalf("accepted a changed log: %+v", r)
		}
		if err != nil && !errors.Is(err, ErrTampered) && !errors.Is(err, ErrBadRecord) {
			t.Fatalf("error %v is neither ErrTampered nor ErrBadRecord", err)
		}
	})
}

// TestLogRobustness: what a killed writer, a lost key or an edit of the
// files leaves behind, and what the log does with it.
func TestLogRobustness(t *testing.T) {
	newLog := func(t *testing.T) *Log {
		l, err := OpenLog(t.TempDir(), true)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	addLine := func(t *testing.T, l *Log, line string) {
		f, err := os.OpenFile(logFile(l), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(line)
		f.Close()
	}
	rec := func(i int) string {
		return fmt.Sprintf(`{"index":%d,"time":"2026-11-26T10:00:00Z","command":"pull","ok":true,"user":"uid 0","ttsguard":"test"}`+"\n", i)
	}
	t.Run("killed in the first append", func(t *testing.T) {
		l := newLog(t) // the empty log is signed at creation
		addLine(t, l, rec(0))
		if r, err := l.Verify(nil); err != nil || r.Records != 1 || r.Signed != 0 {
			t.Fatalf("%+v %v", r, err)
		}
		if cp, err := l.Append(ev("pull", "m")); err != nil || cp.Size != 2 {
			t.Fatalf("%+v %v", cp, err)
		}
	})
	t.Run("complete but invalid unsigned line", func(t *testing.T) {
		l := newLog(t)
		appendN(t, l, 2)
		addLine(t, l, "\x00\x00\x00\n")
		if _, err := l.Verify(nil); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("verify: %v", err)
		}
		if cp, err := l.Append(ev("gc", "")); err != nil || cp.Size != 3 {
			t.Fatalf("append: %+v %v", cp, err)
		}
		if r, err := l.Verify(nil); err != nil || r.Records != 3 {
			t.Fatalf("%+v %v", r, err)
		}
	})
	t.Run("signing key unreadable", func(t *testing.T) {
		l := newLog(t)
		appendN(t, l, 1)
		before, _ := os.ReadFile(logFile(l))
		os.Remove(filepath.Join(l.Dir, logKey))
		if _, err := l.Append(ev("rm", "m0")); err == nil {
			t.Fatal("appended without a signing key")
		}
		if after, _ := os.ReadFile(logFile(l)); !bytes.Equal(before, after) {
			t.Fatal("an event that could not be signed was written")
		}
	})
	t.Run("verifier key removed", func(t *testing.T) {
		l := newLog(t)
		key, _ := os.ReadFile(filepath.Join(l.Dir, logKey))
		os.Remove(filepath.Join(l.Dir, logVerifier))
		if _, err := OpenLog(filepath.Dir(l.Dir), true); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v", err)
		}
		if again, _ := os.ReadFile(filepath.Join(l.Dir, logKey)); !bytes.Equal(key, again) {
			t.Fatal("the signing key was replaced")
		}
	})
	t.Run("readers create nothing", func(t *testing.T) {
		root := t.TempDir()
		if _, err := OpenLog(root, false); !errors.Is(err, ErrNoLog) {
			t.Fatalf("err = %v", err)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 0 {
			t.Fatalf("created %v", ents)
		}
	})
	t.Run("CR LF line ends", func(t *testing.T) {
		l := newLog(t)
		appendN(t, l, 2)
		data, _ := os.ReadFile(logFile(l))
		os.WriteFile(logFile(l), bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), 0o600)
		if _, err := l.Verify(nil); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a signed line loses its newline", func(t *testing.T) {
		l := newLog(t)
		appendN(t, l, 2)
		data, _ := os.ReadFile(logFile(l))
		os.WriteFile(logFile(l), data[:len(data)-1], 0o600)
		if _, err := l.Append(ev("gc", "")); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v", err)
		}
		if after, _ := os.ReadFile(logFile(l)); len(after) != len(data)-1 {
			t.Fatal("a signed record was cut off")
		}
	})
	t.Run("rolled back with its own older checkpoint", func(t *testing.T) {
		// Caught only by a checkpoint kept elsewhere (docs/audit-log.md).
		l := newLog(t)
		old := appendN(t, l, 2)
		oldLog, _ := os.ReadFile(logFile(l))
		saved := appendN(t, l, 2)
		os.WriteFile(logFile(l), oldLog, 0o600)
		os.WriteFile(filepath.Join(l.Dir, logCheckpoint), old.Note, 0o644)
		if _, err := l.Verify(nil); err != nil {
			t.Fatalf("the last checkpoint cannot see a rollback, yet: %v", err)
		}
		if _, err := l.Verify(saved.Note); !errors.Is(err, ErrTampered) {
			t.Fatalf("against the saved checkpoint: %v", err)
		}
	})
	t.Run("audit folder is a symbolic link", func(t *testing.T) {
		root, elsewhere := t.TempDir(), t.TempDir()
		os.Symlink(elsewhere, filepath.Join(root, LogDir))
		if _, err := OpenLog(root, true); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v", err)
		}
	})
}

// BenchmarkAppend100k: one event appended to a log of 100,000 records (the
// whole log is read and hashed under the lock on every append):
// go test -run '^$' -bench Append100k -benchtime 10x ./internal/audit
func BenchmarkAppend100k(b *testing.B) {
	l, err := OpenLog(b.TempDir(), true)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	st := &treeState{}
	for i := 0; i < 100000; i++ {
		e := ev("check", fmt.Sprintf("tts_models--multilingual--multi-dataset--xtts_v2-%d", i%7))
		e.Root = "sha256:f3e580667990812597cc2b1719342fe557e95d1b1f475c1e1626a5ef0171f04e"
		e.User = "ttsguard (uid 998)"
		line, _ := json.Marshal(Record{Index: int64(i), Event: e})
		if err := st.add(line, false); err != nil {
			b.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(logFile(l), buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	if _, err := l.sign(st); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Append(ev("run", "m")); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if _, err := l.Verify(nil); err != nil {
		b.Fatal(err)
	}
}
