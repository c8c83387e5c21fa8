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
