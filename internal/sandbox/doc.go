// Package sandbox starts a command on a verified model with least privilege
// (Linux, amd64 and arm64): Landlock, a seccomp filter, no_new_privs, no
// capabilities, an unprivileged user, a reduced environment, one private
// scratch folder, the parent-death signal, signal forwarding and exit status
// pass-through. docs/sandbox.md describes what is restricted and what a
// kernel may not enforce.
//
// Prepare resolves a Spec (model folder, command, allowed paths, port, user)
// into a Plan without side effects: the Landlock rules for the running
// kernel's ABI, the seccomp rules, the identity, the environment, and what
// cannot be enforced. Run applies a Plan: it re-executes the running binary
// (/proc/self/exe) with argv[0] "ttsguard-sandbox-init"; this package's
// init function recognises that, applies the restrictions on one thread and
// execs the command. Every binary that imports this package (ttsguard, and
// the test binaries of packages that use Run) therefore serves as its own
// sandbox helper; nothing else needs registering.
//
// TTSServerArgs and TTSServerCommand build coqui tts-server's command line
// from a model folder's layout.
package sandbox
