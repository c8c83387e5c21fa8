package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fs-verity (Linux 5.4+: ext4, f2fs, btrfs): once enabled on a file, the
// kernel keeps a Merkle tree of its content beside it, makes the file
// immutable, checks every page it reads against the tree (a damaged page
// is a read error, never wrong bytes), and reports the tree's root, the
// file's fs-verity digest, with FS_IOC_MEASURE_VERITY in constant time.
// The digest is not the file's SHA-256: it is recorded (record.go) when the
// content has just been hashed, and compared later.

// errVerityUnsupported: the kernel or filesystem offers no fs-verity.
var errVerityUnsupported = errors.New("the filesystem or kernel has no fs-verity")

// errVerityNotEnabled: the filesystem has fs-verity, the file has it off.
var errVerityNotEnabled = errors.New("fs-verity is not enabled on the file")

// maxVerityDigest is the largest digest FS_IOC_MEASURE_VERITY returns (SHA-512).
const maxVerityDigest = 64

// verityAlgorithms names the hash algorithms of fs-verity digests.
var verityAlgorithms = map[uint16]string{unix.FS_VERITY_HASH_ALG_SHA256: "sha256", unix.FS_VERITY_HASH_ALG_SHA512: "sha512"}

// unsupportedErrno reports whether an fs-verity ioctl failed because the
// kernel or filesystem lacks the feature (rather than for this file).
func unsupportedErrno(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL)
}

// measureVerity returns the fs-verity digest of the open file f as
// "<algorithm>:<hex>", errVerityNotEnabled when the file has none, or an
// error wrapping errVerityUnsupported.
func measureVerity(f *os.File) (string, error) {
	// struct fsverity_digest { __u16 digest_algorithm; __u16 digest_size; __u8 digest[]; }:
	// digest_size is the room given in, the digest's length out.
	var buf [4 + maxVerityDigest]byte
	binary.NativeEndian.PutUint16(buf[2:4], maxVerityDigest)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.FS_IOC_MEASURE_VERITY, uintptr(unsafe.Pointer(&buf[0])))
	switch {
	case e == unix.ENODATA:
		return "", errVerityNotEnabled
	case e != 0 && unsupportedErrno(e):
		return "", fmt.Errorf("%w (%v)", errVerityUnsupported, e)
	case e != 0:
		return "", fmt.Errorf("measure fs-verity digest of %q: %w", f.Name(), e)
	}
	alg := binary.NativeEndian.Uint16(buf[0:2])
	n := int(binary.NativeEndian.Uint16(buf[2:4]))
	name, ok := verityAlgorithms[alg]
	if !ok || n == 0 || n > maxVerityDigest {
		return "", fmt.Errorf("measure fs-verity digest of %q: algorithm %d, %d bytes", f.Name(), alg, n)
	}
	return name + ":" + hex.EncodeToString(buf[4:4+n]), nil
}

// enableVerity turns fs-verity on for the file at p (SHA-256, 4 KiB
// blocks, no salt, no signature) and returns its digest. A file that has it
// on already is measured. The kernel reads the whole file to build the
// Merkle tree. Errors wrap errVerityUnsupported where the filesystem lacks
// the feature.
func enableVerity(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	arg := unix.FsverityEnableArg{Version: 1, Hash_algorithm: unix.FS_VERITY_HASH_ALG_SHA256, Block_size: 4096}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.FS_IOC_ENABLE_VERITY, uintptr(unsafe.Pointer(&arg)))
	switch {
	case e == 0 || e == unix.EEXIST:
	case unsupportedErrno(e):
		return "", fmt.Errorf("%w (%v)", errVerityUnsupported, e)
	default:
		return "", fmt.Errorf("enable fs-verity on %q: %w", p, e)
	}
	return measureVerity(f)
}

// measureVerityPath is measureVerity of the file at p (not following a
// symbolic link).
func measureVerityPath(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return measureVerity(f)
}
