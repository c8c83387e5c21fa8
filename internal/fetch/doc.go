// Package fetch downloads model files over HTTPS under a URL policy and
// extracts zip and tar archives without ever writing outside a staging folder.
//
// Downloads ([Client.Get]) check every URL, before the first request and after
// every redirect, with a caller-supplied [URLChecker]; verify TLS with the
// caller's configuration; bound connect and idle time and the body size;
// refuse anything but a 200 (or a matching 206 when resuming) and any HTML
// page; resume a cut transfer with an HTTP Range request; and stream the body
// into a private temporary file while hashing it. On failure nothing is left
// behind.
//
// Extraction ([Extract]) validates every entry of a zip, tar or tar.gz archive
// before writing anything: names, entry types, duplicates, counts, declared
// sizes and compression ratios. It then writes regular files and folders only,
// through an [os.Root] opened on the destination, counting the bytes actually
// produced. On failure the destination is left empty.
//
// The package never prints; progress is reported through [Options.Progress].
package fetch
