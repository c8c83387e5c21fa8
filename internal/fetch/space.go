package fetch

import "fmt"

// CheckSpace refuses, before a byte is fetched, a download of several
// files (a Hub repository's, an OCI manifest's layers) whose announced
// sizes add up to more than DefaultMaxBytes, the cap of one download, or
// to more than the free space of the filesystem that holds dir: a source
// cannot fill the disk with files that each pass their own cap, and a pull
// that cannot fit fails at once rather than after hours, with nothing
// half-written. what names the download in the error.
func CheckSpace(dir, what string, sizes []int64) error {
	var total int64
	for _, n := range sizes {
		if n < 0 || total > DefaultMaxBytes-n {
			return fmt.Errorf("%w: %s: %d files announce more than %d bytes together", ErrTooLarge, what, len(sizes), DefaultMaxBytes)
		}
		total += n
	}
	free, ok, err := freeBytes(dir)
	if err != nil {
		return fmt.Errorf("%s: free space of %q: %w", what, dir, err)
	}
	if ok && total > free {
		return fmt.Errorf("%w: %s: %d files announce %d bytes, and the filesystem of %q has %d bytes free", ErrTooLarge, what, len(sizes), total, dir, free)
	}
	return nil
}
