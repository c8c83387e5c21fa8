//go:build !linux

package store

import "errors"

var (
	errVerityUnsupported = errors.New("the filesystem or kernel has no fs-verity")
	errVerityNotEnabled  = errors.New("fs-verity is not enabled on the file")
)

func enableVerity(string) (string, error)      { return "", errVerityUnsupported }
func measureVerityPath(string) (string, error) { return "", errVerityUnsupported }
