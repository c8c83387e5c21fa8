package cli

import "testing"

// TestTerminalSafe: a server's text in an error cannot drive the terminal
// (the attack review made a registry put colour codes in a pull's error),
// nor forge a line of ttsguard's own with a line break.
func TestTerminalSafe(t *testing.T) {
	got := terminalSafe("500: x: \x1b[31mFAKE\x1b[0m\r\u202eevil\nnext\tline\u009b\nttsguard: pull OK")
	want := `500: x: \u001b[31mFAKE\u001b[0m\u000d\u202eevil` + "\n  next\tline" + `\u009b` + "\n  ttsguard: pull OK"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestOneLine: a record's field from outside cannot break the line or
// drive the terminal (the attack review put OSC and CSI sequences and a
// carriage return in a shard report's dataset root, which reached
// `log show`); U+2028 no longer splits an error for the Python API.
func TestOneLine(t *testing.T) {
	got := oneLine("ds\x1b]0;pwned\a\x1b[2K\rfake line\nnext\u2028sep\u200fx")
	want := `ds\u001b]0;pwned\u0007\u001b[2K\u000dfake line\u000anext\u2028sep\u200fx`
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := terminalSafe("denied\u2028ttsguard: pull: all gates passed"); got != `denied\u2028ttsguard: pull: all gates passed` {
		t.Fatalf("terminalSafe kept a line separator: %q", got)
	}
}
