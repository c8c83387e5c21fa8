package audit

import (
	"bytes"
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
	l, err := OpenLog(t.TempDir())
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
	recs, err := l.Records()
	if err != nil || len(recs) != 5 || recs[4].Index != 4 || recs[4].Model != "m1" || recs[0].Command != "pull" {
		t.Fatalf("%+v %v", recs, err)
	}
	// Reopening uses the same key: the earlier checkpoint still verifies.
	l2, err := OpenLog(filepath.Dir(l.Dir))
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
		l, err := OpenLog(t.TempDir())
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
				if err := st.add(bytes.TrimSuffix(line, []byte("\n"))); err != nil {
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
			if _, err := OpenLog(filepath.Dir(l.Dir)); err != nil {
				t.Fatal(err)
			}
			resign(t, l)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, early := setup(t)
			c.change(t, l)
			l, err := OpenLog(filepath.Dir(l.Dir))
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
	l, err := OpenLog(t.TempDir())
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
			l, err := OpenLog(root)
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
	l, _ := OpenLog(root)
	if r, err := l.Verify(nil); err != nil || r.Records != 40 || r.Signed != 40 {
		t.Fatalf("%+v %v", r, err)
	}
}

// FuzzLogVerify: whatever bytes replace a signed log, Verify neither panics
// nor accepts them unless they are the signed log.
func FuzzLogVerify(f *testing.F) {
	root := f.TempDir()
	l, err := OpenLog(root)
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
