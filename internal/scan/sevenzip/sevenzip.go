// Package sevenzip examines every member of a 7z archive by its content,
// through scan.Context.Examine, and reports member names and types that
// extraction tools would turn into writes outside the target folder.
//
// Archives are read with github.com/bodgit/sevenzip (pure Go). An encrypted
// archive (its header or any member) is unscannable: without the password
// its contents cannot be examined.
package sevenzip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"strings"

	"github.com/bodgit/sevenzip"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Rules. Findings about a member carry its name in Member and offset -1.
const (
	RuleSymlink       = "7z/symlink"        // High: extraction creates a link that may point anywhere
	RuleSpecialFile   = "7z/special-file"   // Medium: a device, pipe or socket member
	RuleAbsoluteName  = "7z/absolute-name"  // High: "/x", "\x", "C:x"
	RuleNameEscape    = "7z/name-escape"    // High: a ".." part
	RuleDuplicateName = "7z/duplicate-name" // Medium: tools disagree on which copy wins
	RuleCRCMismatch   = "7z/crc-mismatch"   // Medium: the bytes are not those the archive claims
)

// fileAttributeReparsePoint marks a Windows symbolic link or junction.
const fileAttributeReparsePoint = 0x400

// Scan examines the size bytes at r as a 7z archive: every regular member
// is read into memory (at most c.Limits.MaxMembers members of at most
// c.Limits.MaxMemberSize bytes) and passed to c.Examine with its name and
// sink unchanged (Examine prefixes the member). It returns an error wrapping
// scan.ErrUnscannable when the archive cannot be opened, is encrypted,
// exceeds a limit, has no examiner, or a member could not be read or fully
// examined; the other members are still examined and every finding is kept.
func Scan(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	nc, err := c.Nested()
	if err != nil {
		return err
	}
	off, n, err := checkStartHeader(r, size, c.Limits.MaxHeaderSize)
	if err != nil {
		return err
	}
	if err := precheck(r, size, off, n, c.Limits); err != nil {
		return err
	}
	arc, err := open(r, size)
	if err != nil {
		return err
	}
	if len(arc.File) > c.Limits.MaxMembers {
		return scan.Unscannablef("7z archive has %d members, more than the limit of %d", len(arc.File), c.Limits.MaxMembers)
	}
	var errs []error
	seen := map[string]bool{}
	for _, f := range arc.File {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", scan.ErrUnscannable, err)
		}
		checkName(f.Name, seen, sink)
		if !examinable(f, sink) {
			continue
		}
		if nc.Examine == nil {
			errs = append(errs, scan.Unscannablef("7z member %q: no examiner for archive members", f.Name))
			continue
		}
		if f.UncompressedSize > uint64(c.Limits.MaxMemberSize) {
			errs = append(errs, scan.Unscannablef("7z member %q of %d bytes is larger than the limit of %d",
				f.Name, f.UncompressedSize, c.Limits.MaxMemberSize))
			continue
		}
		b, err := readMember(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f.CRC32 != 0 && crc32.ChecksumIEEE(b) != f.CRC32 {
			sink.Add(scan.Finding{Rule: RuleCRCMismatch, Severity: scan.Medium, Member: f.Name, Offset: -1,
				Message: fmt.Sprintf("member bytes have CRC-32 %08x, the archive says %08x", crc32.ChecksumIEEE(b), f.CRC32)})
		}
		if err := nc.Examine(ctx, f.Name, bytes.NewReader(b), int64(len(b)), sink); err != nil {
			if !errors.Is(err, scan.ErrUnscannable) {
				err = fmt.Errorf("%w: 7z member %q: %w", scan.ErrUnscannable, f.Name, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkStartHeader checks the signature header's claims before the library
// trusts them: the next header (at 32+off, n bytes) lies inside the file and
// is no larger than maxHeader.
func checkStartHeader(r io.ReaderAt, size, maxHeader int64) (off, n uint64, err error) {
	var sh [32]byte
	if size < 32 {
		return 0, 0, scan.Unscannablef("7z archive of %d bytes is shorter than its signature header", size)
	}
	if k, err := r.ReadAt(sh[:], 0); k != len(sh) {
		return 0, 0, scan.Unscannablef("reading 7z signature header: %v", err)
	}
	if !bytes.HasPrefix(sh[:], []byte("7z\xbc\xaf\x27\x1c")) {
		return 0, 0, scan.Unscannablef("not a 7z archive")
	}
	off, n = binary.LittleEndian.Uint64(sh[12:20]), binary.LittleEndian.Uint64(sh[20:28])
	if n > uint64(maxHeader) {
		return 0, 0, scan.Unscannablef("7z header of %d bytes is larger than the limit of %d", n, maxHeader)
	}
	if off > uint64(size) || 32+off+n > uint64(size) {
		return 0, 0, scan.Unscannablef("7z header (offset %d, %d bytes) lies past the end of the file", off, n)
	}
	return off, n, nil
}

// open opens the archive; the library's panics on hostile input become
// unscannable errors.
func open(r io.ReaderAt, size int64) (arc *sevenzip.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			arc, err = nil, scan.Unscannablef("7z reader failed: %v", p)
		}
	}()
	arc, err = sevenzip.NewReader(r, size)
	if err != nil {
		if encrypted(err) {
			return nil, scan.Unscannablef("encrypted 7z archive: its contents cannot be examined")
		}
		return nil, scan.Unscannablef("7z: %v", err)
	}
	return arc, nil
}

func encrypted(err error) bool {
	var re *sevenzip.ReadError
	return errors.As(err, &re) && re.Encrypted
}

// readMember reads a member whole, checking its length.
func readMember(f *sevenzip.File) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, scan.Unscannablef("7z member %q: reader failed: %v", f.Name, p)
		}
	}()
	rc, err := f.Open()
	if err != nil {
		return nil, memberError(f, err)
	}
	defer rc.Close()
	b, err = io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize)+1))
	if err != nil {
		return nil, memberError(f, err)
	}
	if uint64(len(b)) != f.UncompressedSize {
		return nil, scan.Unscannablef("7z member %q: %d bytes, the archive says %d", f.Name, len(b), f.UncompressedSize)
	}
	return b, nil
}

func memberError(f *sevenzip.File, err error) error {
	if encrypted(err) {
		return scan.Unscannablef("7z member %q is encrypted: its contents cannot be examined", f.Name)
	}
	return scan.Unscannablef("7z member %q: %v", f.Name, err)
}

// checkName reports names that write outside the extraction folder, and
// names seen before.
func checkName(name string, seen map[string]bool, sink scan.Sink) {
	add := func(rule string, sev scan.Severity, msg string) {
		sink.Add(scan.Finding{Rule: rule, Severity: sev, Member: name, Offset: -1, Message: msg})
	}
	if seen[name] {
		add(RuleDuplicateName, scan.Medium, fmt.Sprintf("member name %q appears more than once", name))
	}
	seen[name] = true
	slashed := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(slashed, "/") || (len(name) >= 2 && name[1] == ':' && isLetter(name[0])) {
		add(RuleAbsoluteName, scan.High, fmt.Sprintf("member name %q is absolute: extraction writes outside the target folder", name))
	}
	for _, part := range strings.Split(slashed, "/") {
		if part == ".." {
			add(RuleNameEscape, scan.High, fmt.Sprintf("member name %q has a \"..\" part: extraction may write outside the target folder", name))
			break
		}
	}
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// examinable reports whether f is a regular file whose content is to be
// examined; links and special files are reported instead.
func examinable(f *sevenzip.File, sink scan.Sink) bool {
	mode := f.Mode()
	switch {
	case mode.IsDir():
		return false
	case mode&fs.ModeSymlink != 0 || f.Attributes&fileAttributeReparsePoint != 0:
		sink.Add(scan.Finding{Rule: RuleSymlink, Severity: scan.High, Member: f.Name, Offset: -1,
			Message: fmt.Sprintf("member %q is a symbolic link: extraction may write or read through it anywhere", f.Name)})
		return false
	case !mode.IsRegular():
		sink.Add(scan.Finding{Rule: RuleSpecialFile, Severity: scan.Medium, Member: f.Name, Offset: -1,
			Message: fmt.Sprintf("member %q is a special file (%v)", f.Name, mode.Type())})
		return false
	}
	return true
}
