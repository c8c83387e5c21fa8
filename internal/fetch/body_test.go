package fetch

import (
	"crypto/tls"
	"testing"
	"time"
)

func TestHTMLSniff(t *testing.T) {
	for in, want := range map[string]bool{
		"<!doctype html>": true, "\n\n<!DOCTYPE HTML PUBLIC": true, "<html": true, "<HTML>": true,
		"<!doctype htm": false, "<htm": false, "x<html>": false, "<?xml": false, "PK\x03\x04": false,
		"": false, "{\"a\": 1}": false, "<!doctype xml": false,
	} {
		// fed whole, and one byte at a time
		var a, b htmlSniff
		got := a.feed([]byte(in))
		gotB := false
		for i := range len(in) {
			gotB = gotB || b.feed([]byte{in[i]})
		}
		if got != want || gotB != want {
			t.Errorf("%q: whole %v, bytewise %v, want %v", in, got, gotB, want)
		}
	}
}

func TestNewOptions(t *testing.T) {
	chk := &allowHosts{}
	for name, o := range map[string]Options{
		"no Check":           {TLS: &tls.Config{}},
		"no TLS":             {Check: chk},
		"InsecureSkipVerify": {Check: chk, TLS: &tls.Config{InsecureSkipVerify: true}},
		"negative MaxBytes":  {Check: chk, TLS: &tls.Config{}, MaxBytes: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMeter(t *testing.T) {
	now := time.Unix(1000, 0)
	var got []Progress
	m := meter{fn: func(p Progress) { got = append(got, p) }, url: "u", now: func() time.Time { return now }, start: now}
	for range 100 { // 100 chunks of 1000 bytes, 10 ms apart: 1 s in all
		now = now.Add(10 * time.Millisecond)
		m.received += 1000
		m.report(m.received, 200_000, false)
	}
	if len(got) < 9 || len(got) > 11 {
		t.Errorf("%d reports in one second", len(got))
	}
	m.report(m.received, 200_000, true)
	last := got[len(got)-1]
	if last.Done != 100_000 || last.Rate != 100_000 || last.ETA != time.Second || last.URL != "u" {
		t.Errorf("last report %+v", last)
	}
}
