// Package policy reads and evaluates ttsguard's trust policy: which URLs
// models may come from, which signers are trusted, which models are pinned or
// must be signed, how checkpoints are scanned and where the store lives.
//
// A policy is a YAML file, parsed strictly: an unknown key, a key given twice,
// a value of the wrong type or a value that does not validate is an *Error
// naming the file, the line and the key. docs/policy.md documents every key.
package policy

import (
	_ "embed"
	"errors"
	"fmt"
	"path"
)

// Version is the only policy format version.
const Version = 1

// Signature requirements of a model.
const (
	SignatureRequired = "required"
	SignatureOptional = "optional" // the default
)

// Scan profiles (the same names as internal/scan's profiles).
const (
	ProfileCoqui       = "coqui" // the default
	ProfileWeightsOnly = "weights-only"
)

// MaxFileSize caps a policy file (and a CA bundle); bigger files are refused
// before they are parsed.
const MaxFileSize = 1 << 20

// ErrInvalid is the category of every error that says a policy file is
// unreadable or invalid (*Error wraps it).
var ErrInvalid = errors.New("invalid policy")

// Policy is a parsed and validated trust policy. Its zero value allows no
// source and no signer; use Default, Parse, Load or Find.
type Policy struct {
	// Version is the format version; always 1.
	Version int
	// Store is the store folder; "" means the default (see StoreDir).
	Store string
	// Encryption is store.encryption: encryption at rest of the store's blobs.
	Encryption Encryption
	// Sources are the URL prefixes downloads may touch (see AllowURL):
	// https only; http only for http://127.0.0.1[:port]/, http://[::1][:port]/
	// or http://localhost[:port]/ listed explicitly. A policy file without a
	// sources key (or with sources: null) gets the default policy's sources;
	// sources: [] allows none.
	Sources []string
	// CABundle is a PEM file of extra CA certificates that downloads trust
	// besides the system roots ("" = none). Go's SSL_CERT_FILE and
	// SSL_CERT_DIR keep working: they shape the system roots.
	CABundle string
	// Signers are the trusted signers, by unique name.
	Signers []Signer
	// Models holds the per-model rules, by model name: a coqui id such as
	// tts_models/en/ljspeech/vits, or a local name.
	Models map[string]Model
	// Scan is how checkpoints are scanned.
	Scan Scan
	// Run is how `ttsguard run` confines the command it starts (see
	// docs/sandbox.md); its zero value means the defaults.
	Run Run
	// Access says which users and groups hold which role (access.go).
	Access Access
	// Dataset is how training datasets are audited (dataset.go).
	Dataset Dataset
	// Channels are the TUF update channels the host follows (channel.go).
	Channels []Channel
	// Path is the absolute path of the file the policy was loaded from; ""
	// for the embedded default and for Parse.
	Path string
}

// Signer is one trusted signer. Exactly one kind is set: PublicKey, or
// CertificateChain, or Identity with Issuer (keyless, Sigstore).
type Signer struct {
	// Name identifies the signer in Model.Signers; unique in a policy.
	Name string
	// PublicKey is a PEM public key file. Load resolves a relative path
	// against the policy file's folder; "~/" means the home folder.
	PublicKey string
	// CertificateChain are PEM files of the trust anchors (and
	// intermediates) a signing certificate must chain to.
	CertificateChain []string
	// Identity is the keyless signer's certificate identity (SAN: an email
	// or URI), matched exactly.
	Identity string
	// Issuer is the keyless signer's OIDC issuer URL (https), matched exactly.
	Issuer string
	// TrustRoot is a Sigstore trusted_root.json for keyless verification;
	// "" = the embedded public-good root. Only with Identity and Issuer.
	TrustRoot string
	// AllowAnyEKU accepts a signing certificate without the code-signing
	// extended key usage (a TLS server certificate, for one), as
	// model_signing does; by default a certificate signer requires it. Only
	// with CertificateChain.
	AllowAnyEKU bool
}

// Kind says which kind of signer s is: "key", "certificate" or "keyless"
// ("" when s sets none, which a validated policy never holds).
func (s Signer) Kind() string {
	switch {
	case s.PublicKey != "":
		return "key"
	case len(s.CertificateChain) > 0:
		return "certificate"
	case s.Identity != "" || s.Issuer != "":
		return "keyless"
	}
	return ""
}

// Model holds the rules of one model name.
type Model struct {
	// Source is where this name pulls from when no source is given: a coqui
	// id or one URL (which the policy's Sources must allow).
	Source string
	// URLs are several URLs forming one model (like coqui's hf_url lists),
	// instead of Source; each must be allowed by the policy's Sources.
	URLs []string
	// Digest pins the model's manifest root, "sha256:<64 lowercase hex>"
	// ("" = not pinned here). The lock file pins too; a policy pin is
	// authoritative: a lock entry that disagrees is an error.
	Digest string
	// Signature is "required" or "optional"; a parsed policy never holds ""
	// (the default is optional).
	Signature string
	// Signers names the signers allowed to sign this model; empty = any
	// signer of the policy.
	Signers []string
	// TOSAccepted records that the operators accepted the model's terms of
	// service (coqui's tos_required models, such as XTTS).
	TOSAccepted bool
	// Files says which of the model's files are stored.
	Files ModelFiles
	// Requires are the Hugging Face repositories the model loads at start
	// (requires.go). RequiresSet says the policy gives the list (an empty
	// one included); without it, pull and run use their built-in list for
	// coqui's catalog models (internal/pull/deps_builtin.go).
	Requires    []Requirement
	RequiresSet bool
	// Update says what a new version may change (update.go).
	Update ModelUpdate
	// Provenance says what its training provenance must show (provenance.go).
	Provenance ModelProvenance
	// DatasetAudit: for a training dataset of this name (the folder's
	// name), ttsguard train runs `dataset audit` on it first and refuses
	// to start on a finding at or above medium.
	DatasetAudit bool
}

// ModelFiles says which of a model's files a pull stores.
type ModelFiles struct {
	// Exclude are glob patterns (path.Match syntax) of files a pull leaves
	// out of the stored model, such as a trainer's leftovers
	// (checkpoint_*.pth, events.out.tfevents.*): a pattern matches a file's
	// slash-separated path relative to the model folder, or a folder above
	// it (which leaves out everything in it). The manifest, pins and lock
	// entry are of the files kept; a signature over the whole upstream
	// folder still verifies the files kept (docs/policy.md).
	Exclude []string
}

// Excluded reports whether the model's files.exclude leaves out the file at
// rel, a slash-separated path relative to the model folder: a pattern
// matches rel or one of the folders above it.
func (m Model) Excluded(rel string) bool {
	for _, pat := range m.Files.Exclude {
		for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
			if ok, _ := path.Match(pat, p); ok {
				return true
			}
		}
	}
	return false
}

// RequiresSignature reports whether the model must carry a valid signature.
func (m Model) RequiresSignature() bool { return m.Signature == SignatureRequired }

// Scan says how checkpoints are scanned.
type Scan struct {
	// Profile is "coqui" (the default) or "weights-only"; a parsed policy
	// never holds "".
	Profile string
	// AllowGlobals are extra pickle globals to allow, as "module.name" (or
	// "module:qualname"); internal/scan validates them (code execution can
	// never be allowed).
	AllowGlobals []string
}

// Run says how `ttsguard run` confines the command it starts.
type Run struct {
	// User is the unprivileged user the command runs as when ttsguard is
	// started as root: a user name or a numeric id, never root (0). "" means
	// a fresh user id for each run, in no account database (see
	// docs/sandbox.md). It is looked up when the command starts.
	User string
	// Group is the command's group when ttsguard is started as root: a group
	// name or a numeric id, never root (0). "" means the group of the store
	// folder (so that its 0750 folders can be traversed), or nogroup when the
	// store's group is root.
	Group string
	// AllowRead are more files or folders the command may read (and
	// execute), besides the model, the system paths and the command itself.
	// Load resolves a relative path against the policy file's folder and
	// "~/" against the home folder; each must exist when the command starts.
	AllowRead []string
	// Env names environment variables passed through from ttsguard's
	// environment, besides the ones always passed (PATH, LANG, LC_*) and the
	// ones ttsguard sets (RunEnvSet).
	Env []string
	// Limits caps the command's resources; a zero field means the default.
	Limits RunLimits
	// GPU allows the NVIDIA device files to the command (as `run --gpu`).
	GPU bool
	// Verify is how `check`, `run` and `audit --quick` verify a stored
	// model's files: VerifyFast (also "") or VerifyFull. `audit` without
	// --quick always re-hashes.
	Verify string
}

// FastVerify reports whether stored models may be verified through the
// store's stat record (run.verify is fast or unset).
func (r Run) FastVerify() bool { return r.Verify != VerifyFull }

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default policy file, byte for byte.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default returns the embedded default policy (a fresh copy each call):
// coqui's official download hosts over HTTPS, scan profile coqui, no signers,
// signatures optional.
func Default() *Policy {
	p, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic(fmt.Sprintf("policy: embedded default policy: %v", err))
	}
	return p
}

// defaultSources are the embedded default policy's sources.
func defaultSources() []string {
	return Default().Sources
}

// ModelPolicy returns the rules for a model name; the zero Model (not pinned,
// signature optional, any signer, terms not accepted) when the policy has
// none.
func (p *Policy) ModelPolicy(name string) Model {
	return p.Models[name]
}

// SignersFor returns the signers allowed to sign the model: those its rules
// name, in that order, or else every signer of the policy.
func (p *Policy) SignersFor(name string) []Signer {
	m, ok := p.Models[name]
	if !ok || len(m.Signers) == 0 {
		return append([]Signer(nil), p.Signers...)
	}
	var out []Signer
	for _, n := range m.Signers {
		for _, s := range p.Signers {
			if s.Name == n {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// Error is a policy file that cannot be read or does not validate. Its text
// reads `policy "FILE": line N: KEY: MESSAGE`; the line is left out when
// unknown and the key when the error is about the whole document.
type Error struct {
	File string // the name given to Parse or Load
	Line int    // 1-based; 0 when unknown
	Key  string // path of the key, such as signers[0].public_key or models["x"].digest
	Msg  string
	Err  error // an underlying error (such as from os.Stat), or nil
}

func (e *Error) Error() string {
	s := fmt.Sprintf("policy %q: ", e.File)
	if e.Line > 0 {
		s += fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

// Unwrap returns ErrInvalid and the underlying error, if any.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}
