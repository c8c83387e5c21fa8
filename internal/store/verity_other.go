//go:build !linux

package store

import "errors"

var (
	errVerityUnsupported = errors.New("fs-verity is not supported here")
	errVerityNotEnabled  = errors.New("fs-verity is not enabled on the file")
)

func enableVerity(string) (string, error)      { return "", errVerityUnsupported }
func measureVerityPath(string) (string, error) { return "", errVerityUnsupported }
