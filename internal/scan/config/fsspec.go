package config

import (
	"strings"
)

// fsspecProtocols are the protocols fsspec knows: fsspec.available_protocols()
// of fsspec 2026.9.0 as coqui-tts 0.28 installs it (known_implementations
// plus the registry), in testdata/fsspec_protocols.txt as
// testdata/gen_issue16.py writes it from the installed fsspec
// (TestFsspecProtocolsMatchInstalled keeps the two equal).
var fsspecProtocols = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`abfs adl arrow_hdfs async_wrapper asynclocal asyncwrapper az blockcache
		box cached dask data dbfs dir dropbox dvc file filecache ftp gcs gdrive generic gist git github gs hdfs
		hf http https jlab jupyter lakefs libarchive local memory oci ocilake oss pyscript reference root s3 s3a
		sftp simplecache smb ssh tar tos tosfs wandb webdav webhdfs zip`) {
		fsspecProtocols[p] = true
	}
}

// FsspecURL reports whether fsspec reads s as something other than a plain
// local path, and names the first protocol that makes it so. coqui opens a
// path field in two ways, and s is a URL when either reading is:
//
//   - fsspec.open(s) (coqui's load_config, speaker and language files):
//     fsspec's _un_chain splits s at "::" into a chain (every string with
//     "::" is one), and split_protocol gives each part its protocol: the text
//     before the first "://" when it is longer than one character (anywhere
//     in the string, leading spaces included; so "C://x" stays a path), or
//     "data" for a string that starts with "data:" (the payload is inline);
//   - trainer's load_fsspec (checkpoints, speaker encoders) opens
//     "filecache::" + s when no file s exists in the working folder: a part
//     that is a protocol name on its own ("memory", "github", "https") becomes
//     "memory://", so a bare protocol name is a URL too (but "file" and
//     "local", which stay local).
//
// LocalFileSystem itself strips a leading "file://", "file:", "local://" or
// "local:": those forms are reported as URLs as well (explicit protocols
// whose path no rule of the model folder resolves).
func FsspecURL(s string) (string, bool) {
	if strings.Contains(s, "::") {
		for _, part := range strings.Split(s, "::") {
			if p := chainProtocol(part); p != "" && p != "file" && p != "local" {
				return p, true
			}
		}
		return "chain", true
	}
	if p, ok := splitProtocol(s); ok {
		return p, true
	}
	for _, pre := range []string{"file:", "local:"} {
		if strings.HasPrefix(s, pre) {
			return strings.TrimSuffix(pre, ":"), true
		}
	}
	if fsspecProtocols[s] && s != "file" && s != "local" {
		return s, true // "filecache::" + s: a bare protocol name becomes "s://"
	}
	return "", false
}

// splitProtocol is fsspec.core.split_protocol: the protocol of a URL, ok
// false for a plain path.
func splitProtocol(s string) (string, bool) {
	if p, _, ok := strings.Cut(s, "://"); ok && len(p) > 1 {
		return p, true
	}
	if strings.HasPrefix(s, "data:") {
		return "data", true
	}
	return "", false
}

// chainProtocol is the protocol _un_chain gives one part of a chain: a known
// protocol name alone; split_protocol of a part with "://" or any character
// outside a-z, and of "part://" for anything else ("" when the part is a plain
// path, or one letter: "a://" is a Windows drive to split_protocol).
func chainProtocol(part string) string {
	if fsspecProtocols[part] {
		return part
	}
	if !strings.Contains(part, "://") && strings.IndexFunc(part, func(r rune) bool { return r < 'a' || r > 'z' }) < 0 {
		part += "://"
	}
	p, _ := splitProtocol(part)
	return p
}
