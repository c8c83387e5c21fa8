package policy

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// Encryption is the store's encryption at rest (store.encryption; see
// docs/storage.md): blobs are committed as age files for every recipient and
// read with the identity file. Its zero value (Set false) encrypts nothing.
type Encryption struct {
	// Set says the policy has a store.encryption section.
	Set bool
	// Recipients are age ("age1...") or SSH ("ssh-ed25519 ...", "ssh-rsa
	// ...") public keys; every one of them can decrypt what is committed.
	Recipients []string
	// Identity is the identity file (age secret keys or an OpenSSH private
	// key) that decrypts: root's, mode 0600 (crypt.CheckIdentityFile).
	// Absolute once loaded (relative to the policy file's folder).
	Identity string
}

var storeKeys = []string{"path", "encryption"}
var encryptionKeys = []string{"recipients", "identity"}

// store reads the store key: a path (the store folder), or a mapping
// {path, encryption: {recipients, identity}}.
func (ps *parser) store(p *Policy, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode || isNull(n) {
		s, err := ps.str(n, "store")
		if err == nil && s != "" {
			p.Store = s
			err = ps.path(n, "store", s)
		}
		return err
	}
	return ps.mapping(n, "store", storeKeys, func(k string, _, vn *yaml.Node) error {
		fk := join("store", k)
		switch k {
		case "path":
			s, err := ps.str(vn, fk)
			if err == nil && s != "" {
				p.Store = s
				err = ps.path(vn, "store", s)
			}
			return err
		case "encryption":
			return ps.encryption(p, vn)
		}
		return nil
	})
}

func (ps *parser) encryption(p *Policy, n *yaml.Node) error {
	const key = "store.encryption"
	if n.Kind != yaml.MappingNode {
		return ps.wantType(n, key, "a mapping with recipients and identity")
	}
	e := Encryption{Set: true}
	var recNode *yaml.Node
	err := ps.mapping(n, key, encryptionKeys, func(k string, _, vn *yaml.Node) error {
		fk := join(key, k)
		switch k {
		case "recipients":
			list, nodes, err := ps.strList(vn, fk)
			if err != nil {
				return err
			}
			recNode = vn
			seen := map[string]bool{}
			for i, r := range list {
				if _, err := crypt.ParseRecipients([]string{r}); err != nil {
					return ps.errf(nodes[i], fmt.Sprintf("%s[%d]", fk, i), "%v", err)
				}
				if seen[r] {
					return ps.errf(nodes[i], fmt.Sprintf("%s[%d]", fk, i), "recipient is listed twice")
				}
				seen[r] = true
			}
			e.Recipients = list
		case "identity":
			s, err := ps.str(vn, fk)
			if err != nil {
				return err
			}
			if s == "" {
				return ps.errf(vn, fk, "empty: want the identity file that decrypts the store")
			}
			e.Identity = s
			return ps.path(vn, fk, s)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(e.Recipients) == 0 {
		if recNode == nil {
			recNode = n
		}
		return ps.errf(recNode, key+".recipients", "missing or empty: want at least one age1... or ssh-ed25519 public key")
	}
	if e.Identity == "" {
		return ps.errf(n, key+".identity", "missing: want the identity file that decrypts the store")
	}
	p.Encryption = e
	return nil
}

// yamlStore is the store key as a mapping (only with encryption).
type yamlStore struct {
	Path       string          `yaml:"path,omitempty" json:"path,omitempty"`
	Encryption *yamlEncryption `yaml:"encryption,omitempty" json:"encryption,omitempty"`
}

type yamlEncryption struct {
	Recipients []string `yaml:"recipients" json:"recipients"`
	Identity   string   `yaml:"identity" json:"identity"`
}

// marshalStore is the store key: a path, or a mapping when encryption is set.
func marshalStore(p *Policy) any {
	if !p.Encryption.Set {
		if p.Store == "" {
			return nil
		}
		return p.Store
	}
	return yamlStore{Path: p.Store, Encryption: &yamlEncryption{
		Recipients: append([]string(nil), p.Encryption.Recipients...), Identity: p.Encryption.Identity}}
}
