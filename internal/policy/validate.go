package policy

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ttsguard/ttsguard/internal/scan"
)

var (
	// signerName: a short word; it appears in model rules and evidence.
	signerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)
	// modelName: slash-separated segments (a coqui id has four), no dot
	// segments, no spaces.
	modelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)
	// manifestDigest: a pinned manifest root.
	manifestDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// maxModelName caps a model name's length.
const maxModelName = 256

// ValidModelName reports whether s can name a model in a policy: segments of
// letters, digits, '.', '_' and '-' that start with a letter or digit,
// separated by '/' (a coqui id such as tts_models/en/ljspeech/vits has four),
// at most 256 bytes.
func ValidModelName(s string) bool {
	return len(s) <= maxModelName && modelName.MatchString(s)
}

var signerKeys = []string{"name", "public_key", "certificate_chain", "allow_any_eku", "identity", "issuer", "trust_root"}

func (ps *parser) signers(p *Policy, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return ps.wantType(n, "signers", "a list of signers")
	}
	names := map[string]int{}
	for i, sn := range n.Content {
		key := fmt.Sprintf("signers[%d]", i)
		var s Signer
		var nameNode, ekuNode *yaml.Node
		err := ps.mapping(sn, key, signerKeys, func(k string, kn, vn *yaml.Node) error {
			var err error
			fk := join(key, k)
			switch k {
			case "name":
				nameNode = vn
				s.Name, err = ps.str(vn, fk)
			case "public_key":
				if s.PublicKey, err = ps.str(vn, fk); err == nil && s.PublicKey != "" {
					err = ps.path(vn, fk, s.PublicKey)
				}
			case "certificate_chain":
				var nodes []*yaml.Node
				s.CertificateChain, nodes, err = ps.strList(vn, fk)
				for j := 0; err == nil && j < len(nodes); j++ {
					ck := fmt.Sprintf("%s[%d]", fk, j)
					if s.CertificateChain[j] == "" {
						err = ps.errf(nodes[j], ck, "empty path")
					} else {
						err = ps.path(nodes[j], ck, s.CertificateChain[j])
					}
				}
			case "allow_any_eku":
				s.AllowAnyEKU, err = ps.boolean(vn, fk)
				ekuNode = vn
			case "identity":
				s.Identity, err = ps.str(vn, fk)
			case "issuer":
				if s.Issuer, err = ps.str(vn, fk); err == nil && s.Issuer != "" {
					err = ps.issuer(vn, fk, s.Issuer)
				}
			case "trust_root":
				if s.TrustRoot, err = ps.str(vn, fk); err == nil && s.TrustRoot != "" {
					err = ps.path(vn, fk, s.TrustRoot)
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		if sn.Kind != yaml.MappingNode {
			return ps.wantType(sn, key, "a mapping")
		}
		if err := ps.signer(sn, nameNode, key, s, names); err != nil {
			return err
		}
		if s.AllowAnyEKU && len(s.CertificateChain) == 0 {
			return ps.errf(ekuNode, key+".allow_any_eku", "only certificate signers (certificate_chain) use allow_any_eku")
		}
		names[s.Name] = nameNode.Line
		p.Signers = append(p.Signers, s)
	}
	return nil
}

// signer validates one signer after its keys are read.
func (ps *parser) signer(sn, nameNode *yaml.Node, key string, s Signer, names map[string]int) error {
	switch {
	case s.Name == "":
		return ps.errf(sn, key, "name is missing")
	case !signerName.MatchString(s.Name):
		return ps.errf(nameNode, key+".name", "invalid signer name %q: want letters, digits, '.', '_', '@' or '-', at most 128", s.Name)
	}
	if line, dup := names[s.Name]; dup {
		return ps.errf(nameNode, key+".name", "signer %q is already defined on line %d", s.Name, line)
	}
	var kinds []string
	if s.PublicKey != "" {
		kinds = append(kinds, "public_key")
	}
	if len(s.CertificateChain) > 0 {
		kinds = append(kinds, "certificate_chain")
	}
	if s.Identity != "" || s.Issuer != "" {
		kinds = append(kinds, "identity and issuer")
	}
	const want = "want exactly one of public_key, certificate_chain, or identity and issuer"
	switch {
	case len(kinds) == 0:
		return ps.errf(sn, key, "signer %q sets no key: %s", s.Name, want)
	case len(kinds) > 1:
		return ps.errf(sn, key, "signer %q sets %s: %s", s.Name, strings.Join(kinds, " and "), want)
	case s.Identity != "" && s.Issuer == "":
		return ps.errf(sn, key, "keyless signer %q has an identity but no issuer", s.Name)
	case s.Issuer != "" && s.Identity == "":
		return ps.errf(sn, key, "keyless signer %q has an issuer but no identity", s.Name)
	case s.TrustRoot != "" && s.Identity == "":
		return ps.errf(sn, key+".trust_root", "only keyless signers (identity and issuer) use a trust root")
	}
	return nil
}

// issuer checks an OIDC issuer URL: https, a host, no userinfo.
func (ps *parser) issuer(n *yaml.Node, key, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ps.errf(n, key, "issuer %q: want an https URL (such as https://accounts.google.com)", s)
	}
	return nil
}

var modelKeys = []string{"source", "urls", "digest", "signature", "signers", "tos_accepted", "files", "requires", "update", "provenance", "dataset_audit"}

func (ps *parser) models(p *Policy, n *yaml.Node) error {
	return ps.mapping(n, "models", nil, func(name string, kn, vn *yaml.Node) error {
		key := fmt.Sprintf("models[%q]", name)
		if !ValidModelName(name) {
			return ps.errf(kn, "models", "invalid model name %q: want segments of letters, digits, '.', '_' or '-' separated by '/', at most %d bytes", name, maxModelName)
		}
		var m Model
		var sigNode, srcNode *yaml.Node
		var urlNodes, signerNodes []*yaml.Node
		err := ps.mapping(vn, key, modelKeys, func(k string, _, vn *yaml.Node) error {
			var err error
			fk := join(key, k)
			switch k {
			case "source":
				srcNode = vn
				m.Source, err = ps.str(vn, fk)
			case "urls":
				m.URLs, urlNodes, err = ps.strList(vn, fk)
			case "digest":
				if m.Digest, err = ps.str(vn, fk); err == nil && m.Digest != "" && !manifestDigest.MatchString(m.Digest) {
					err = ps.errf(vn, fk, "%q is not a digest: want sha256:<64 lowercase hex digits>", m.Digest)
				}
			case "signature":
				sigNode = vn
				if m.Signature, err = ps.str(vn, fk); err == nil && m.Signature != "" &&
					m.Signature != SignatureRequired && m.Signature != SignatureOptional {
					err = ps.errf(vn, fk, "want required or optional, got %q", m.Signature)
				}
			case "signers":
				m.Signers, signerNodes, err = ps.strList(vn, fk)
			case "tos_accepted":
				m.TOSAccepted, err = ps.boolean(vn, fk)
			case "files":
				m.Files, err = ps.modelFiles(vn, fk)
			case "requires":
				m.RequiresSet = true
				m.Requires, err = ps.requires(vn, fk)
			case "update":
				m.Update, err = ps.modelUpdate(vn, fk)
			case "provenance":
				m.Provenance, err = ps.modelProvenance(p, vn, fk)
			case "dataset_audit":
				m.DatasetAudit, err = ps.boolean(vn, fk)
			}
			return err
		})
		if err != nil {
			return err
		}
		if m.Signature == "" {
			m.Signature = SignatureOptional
		}
		if err := ps.modelSources(p, kn, key, &m, srcNode, urlNodes); err != nil {
			return err
		}
		ps.modelSigners(p, key, m, sigNode, signerNodes)
		if p.Models == nil {
			p.Models = map[string]Model{}
		}
		p.Models[name] = m
		return nil
	})
}

// modelFiles reads a model's files: {exclude: [patterns]}. A pattern is a
// path.Match glob of a slash-separated path relative to the model folder:
// not empty, not absolute, no empty, "." or ".." part, no control
// character, given once.
func (ps *parser) modelFiles(n *yaml.Node, key string) (ModelFiles, error) {
	var f ModelFiles
	err := ps.mapping(n, key, []string{"exclude"}, func(k string, _, vn *yaml.Node) error {
		fk := join(key, k)
		list, nodes, err := ps.strList(vn, fk)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for i, pat := range list {
			ik := fmt.Sprintf("%s[%d]", fk, i)
			if why := badPattern(pat); why != "" {
				return ps.errf(nodes[i], ik, "pattern %q: %s", pat, why)
			}
			if seen[pat] {
				return ps.errf(nodes[i], ik, "%q is listed twice", pat)
			}
			seen[pat] = true
		}
		if len(list) > 0 {
			f.Exclude = list
		}
		return nil
	})
	return f, err
}

// badPattern says what is wrong with an exclude pattern ("" when nothing).
func badPattern(pat string) string {
	switch {
	case pat == "":
		return "empty"
	case strings.ContainsFunc(pat, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "a control character"
	case strings.HasPrefix(pat, "/"):
		return "want a path relative to the model folder"
	}
	for _, part := range strings.Split(pat, "/") {
		if part == "" || part == "." || part == ".." {
			return "want slash-separated names, without empty, \".\" or \"..\" parts"
		}
	}
	if _, err := path.Match(pat, ""); err != nil {
		return "not a glob (path.Match syntax: *, ?, [a-z], \\ escapes)"
	}
	return ""
}

// modelSources checks a model's source or urls; whether the policy's sources
// allow them is checked once the whole file is read.
func (ps *parser) modelSources(p *Policy, kn *yaml.Node, key string, m *Model, srcNode *yaml.Node, urlNodes []*yaml.Node) error {
	if m.Source != "" && len(m.URLs) > 0 {
		return ps.errf(kn, key, "source and urls are exclusive")
	}
	type ref struct {
		n   *yaml.Node
		key string
		u   string
	}
	var refs []ref
	switch {
	case strings.Contains(m.Source, "://"):
		refs = append(refs, ref{srcNode, key + ".source", m.Source})
	case m.Source != "" && !ValidModelName(m.Source):
		return ps.errf(srcNode, key+".source", "%q is neither a URL nor a model id", m.Source)
	}
	seen := map[string]bool{}
	for i, u := range m.URLs {
		k := fmt.Sprintf("%s.urls[%d]", key, i)
		if seen[u] {
			return ps.errf(urlNodes[i], k, "%q is listed twice", u)
		}
		seen[u] = true
		refs = append(refs, ref{urlNodes[i], k, u})
	}
	for _, r := range refs {
		if _, err := url.Parse(r.u); err != nil || !strings.Contains(r.u, "://") {
			return ps.errf(r.n, r.key, "%q is not a URL", r.u)
		}
		ps.deferred = append(ps.deferred, func() error {
			if err := p.AllowURLString(r.u); err != nil {
				return ps.errf(r.n, r.key, "%v", err)
			}
			return nil
		})
	}
	return nil
}

// modelSigners defers the checks of a model's signers: each must be defined,
// and a required signature needs at least one signer.
func (ps *parser) modelSigners(p *Policy, key string, m Model, sigNode *yaml.Node, signerNodes []*yaml.Node) {
	ps.deferred = append(ps.deferred, func() error {
		seen := map[string]bool{}
		for i, name := range m.Signers {
			k := fmt.Sprintf("%s.signers[%d]", key, i)
			if seen[name] {
				return ps.errf(signerNodes[i], k, "signer %q is listed twice", name)
			}
			seen[name] = true
			found := false
			for _, s := range p.Signers {
				found = found || s.Name == name
			}
			if !found {
				return ps.errf(signerNodes[i], k, "no signer named %q (define it under signers)", name)
			}
		}
		if m.RequiresSignature() && len(p.Signers) == 0 {
			return ps.errf(sigNode, key+".signature", "required, but the policy defines no signers")
		}
		return nil
	})
}

var scanKeys = []string{"profile", "allow_globals"}

func (ps *parser) scan(p *Policy, n *yaml.Node) error {
	var globals []*yaml.Node
	var profileNode *yaml.Node
	err := ps.mapping(n, "scan", scanKeys, func(k string, _, vn *yaml.Node) error {
		var err error
		switch k {
		case "profile":
			profileNode = vn
			p.Scan.Profile, err = ps.str(vn, "scan.profile")
		case "allow_globals":
			p.Scan.AllowGlobals, globals, err = ps.strList(vn, "scan.allow_globals")
		}
		return err
	})
	if err != nil {
		return err
	}
	switch p.Scan.Profile {
	case "", ProfileCoqui, ProfileWeightsOnly:
	default:
		return ps.errf(profileNode, "scan.profile", "unknown profile %q: want coqui or weights-only", p.Scan.Profile)
	}
	seen := map[string]bool{}
	for i, g := range p.Scan.AllowGlobals {
		k := fmt.Sprintf("scan.allow_globals[%d]", i)
		if seen[g] {
			return ps.errf(globals[i], k, "%q is listed twice", g)
		}
		seen[g] = true
		if _, err := scan.NewPolicy(p.Scan.Profile, []string{g}); err != nil {
			return ps.errf(globals[i], k, "%v", err)
		}
	}
	return nil
}

// ScanPolicy returns the scanner's allowlist for this policy's profile and
// extra globals.
func (p *Policy) ScanPolicy() (*scan.Policy, error) {
	return scan.NewPolicy(p.Scan.Profile, p.Scan.AllowGlobals)
}
