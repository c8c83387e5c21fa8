package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrUnscannable is wrapped by every error that stopped a scanner before it
// had read all of its input. A file with such an error is never clean;
// findings made before the error are kept.
var ErrUnscannable = errors.New("could not be fully parsed")

// Unscannablef returns an error wrapping ErrUnscannable.
func Unscannablef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnscannable, fmt.Sprintf(format, a...))
}

// Limits bound the work and memory a scan may spend on hostile input. They
// are kept in one place (DESIGN.md, conventions 4).
type Limits struct {
	MaxDepth        int   // nesting of containers (zip in 7z in npz ...)
	MaxMemberSize   int64 // bytes of one archive member read into memory
	MaxMembers      int   // members of one archive
	MaxPickleOps    int64 // opcodes per pickle stream
	MaxStack        int   // symbolic stack entries
	MaxMemo         int   // memo entries
	MaxMemoReads    int64 // GET/BINGET/LONG_BINGET per stream
	MaxHeaderSize   int64 // safetensors / npy header bytes
	MaxConfigSize   int64 // config file bytes
	MaxStringInMemo int   // bytes of a constant string kept for analysis
	MaxTreeItems    int   // container items kept when a pickle's value is materialised (pickle.Options.Tree)
	MaxTreeDepth    int   // nesting of containers in a materialised pickle value
}

// DefaultLimits are generous for real checkpoints and stop expansion bombs.
var DefaultLimits = Limits{
	MaxDepth:        4,
	MaxMemberSize:   256 << 20,
	MaxMembers:      100_000,
	MaxPickleOps:    200_000_000,
	MaxStack:        1_000_000,
	MaxMemo:         4_000_000,
	MaxMemoReads:    50_000_000,
	MaxHeaderSize:   100 << 20,
	MaxConfigSize:   16 << 20,
	MaxStringInMemo: 4096,
	MaxTreeItems:    4_000_000,
	MaxTreeDepth:    200,
}

// Examiner scans bytes by their content (not their name), reporting into
// sink. Container scanners call it for every member; member is the member's
// path inside the container. It returns an error wrapping ErrUnscannable when
// the member could not be fully parsed.
type Examiner func(ctx context.Context, member string, r io.ReaderAt, size int64, sink Sink) error

// Context is what every format scanner receives.
type Context struct {
	Policy *Policy
	Limits Limits
	Depth  int // container nesting of the bytes being scanned
	// Dir is the absolute folder of the file being scanned when it is a file
	// on disk at depth 0 ("" otherwise): coqui's downloader rewrites config
	// paths to absolute paths inside the model folder, which are not findings.
	Dir     string
	Examine Examiner // scans nested content; nil means nested content is not examined
}

// Nested returns a copy of c one container level deeper, or an error when
// the nesting limit is reached.
func (c *Context) Nested() (*Context, error) {
	if c.Depth+1 > c.Limits.MaxDepth {
		return nil, Unscannablef("containers nested deeper than %d levels", c.Limits.MaxDepth)
	}
	n := *c
	n.Depth++
	return &n, nil
}
