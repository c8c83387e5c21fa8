//go:build !linux

package fetch

import "os"

func startWriteback(*os.File, int64, int64) {}
