//go:build !unix

package fetch

// oNoFollow: O_EXCL already refuses an existing link where it matters.
const oNoFollow = 0
