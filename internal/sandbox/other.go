//go:build !linux || !(amd64 || arm64)

package sandbox

import (
	"context"
	"io"
	"os"
)

const supported = false

// IO connects the command to the caller.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Signals        <-chan os.Signal
	Started        func(pid int)
	Forwarded      func(os.Signal)
}

func resolveIdentity(Spec) (Identity, error) { return Identity{}, ErrUnsupported }

func (p *Plan) planLandlock(Spec, string) error { return ErrUnsupported }

func seccompPlan() Seccomp { return Seccomp{} }

func outputFolder(string) (string, error) { return "", ErrUnsupported }

func processPlan(bool) Process { return Process{} }

// Run is not supported on this system.
func Run(context.Context, *Plan, IO) (int, error) { return 0, ErrUnsupported }

func newMemfdView([]Overlay, string) (*MemfdView, error) { return nil, ErrUnsupported }
