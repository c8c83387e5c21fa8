package audit

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"path/filepath"
)

// LogReport is the evidence of Verify.
type LogReport struct {
	Dir         string `json:"dir"`
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	Records     int64  `json:"records"`           // complete lines when the log does not verify
	Signed      int64  `json:"signed"`            // records the last checkpoint covers
	Root        string `json:"root"`              // base64 tree hash of all records
	Earlier     *int64 `json:"earlier,omitempty"` // size of the earlier checkpoint checked, if any
	OK          bool   `json:"ok"`
	Problem     string `json:"problem,omitempty"`
}

// Verify checks the log against its last checkpoint and, when earlier is
// not nil, against an earlier checkpoint of this log (saved elsewhere): the
// first records must still hash to its root. A failed check returns the
// report and an error wrapping ErrTampered or ErrBadRecord.
func (l *Log) Verify(earlier []byte) (*LogReport, error) {
	r := &LogReport{Dir: l.Dir, Origin: l.verifier.Name(), VerifierKey: l.VerifierKey()}
	fail := func(err error) (*LogReport, error) {
		r.Problem = err.Error()
		return r, err
	}
	st, err := l.load(false)
	if err != nil {
		// Best effort for the evidence: the lines there are, what the
		// checkpoint signs.
		if data, rerr := readLimitedFile(filepath.Join(l.Dir, logRecords), maxLog); rerr == nil {
			r.Records = int64(bytes.Count(data, []byte{'\n'}))
		}
		if cp, cerr := l.Current(); cerr == nil {
			r.Signed = cp.Size
		}
		return fail(err)
	}
	r.Records, r.Signed = st.n, st.signed
	root, err := st.root()
	if err != nil {
		return fail(err)
	}
	r.Root = base64.StdEncoding.EncodeToString(root[:])
	if earlier != nil {
		e, err := ParseCheckpoint(earlier, l.verifier)
		if err != nil {
			return fail(fmt.Errorf("earlier checkpoint: %w (signed by another key, or the log's key was replaced)", err))
		}
		r.Earlier = &e.Size
		if e.Size > r.Records {
			return fail(fmt.Errorf("%w: the earlier checkpoint signs %d records, the log holds %d (records were removed)", ErrTampered, e.Size, r.Records))
		}
		h, err := st.treeHash(e.Size)
		if err != nil {
			return fail(err)
		}
		if h != e.Root {
			return fail(fmt.Errorf("%w: the first %d records no longer hash to the earlier checkpoint's root (records were changed, removed or reordered)", ErrTampered, e.Size))
		}
	}
	if r.Records > r.Signed {
		r.Problem = fmt.Sprintf("%d records after the last checkpoint (a writer was killed before signing; the next event signs them)", r.Records-r.Signed)
	}
	r.OK = true
	return r, nil
}

// Records returns the events of a log that matches its checkpoint, and how
// many of them (from the first) the checkpoint signs.
func (l *Log) Records() ([]Record, int64, error) {
	st, err := l.load(false)
	if err != nil {
		return nil, 0, err
	}
	return st.records, st.signed, nil
}
