package cli

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestEarlySignals: before the command starts, SIGHUP (and SIGQUIT) cancel
// run's context, so that run removes what it set up (the attack review
// found the decrypted model's folder of links left behind by a SIGHUP);
// releasing stops catching them and cancels the context.
func TestEarlySignals(t *testing.T) {
	ctx, release := earlySignals(context.Background())
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not cancel the context")
	}
	release()
	release() // twice is fine
	ctx, release = earlySignals(context.Background())
	if ctx.Err() != nil {
		t.Fatal("a fresh context is canceled")
	}
	release()
	if ctx.Err() == nil {
		t.Fatal("release did not cancel the context")
	}
}
