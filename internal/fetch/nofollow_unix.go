//go:build unix

package fetch

import "syscall"

// oNoFollow refuses to open a symbolic link as the last path element.
const oNoFollow = syscall.O_NOFOLLOW
