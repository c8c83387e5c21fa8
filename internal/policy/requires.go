package policy

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ttsguard/ttsguard/internal/hub"
)

// Requirement is a Hugging Face repository that a model's code loads at
// start (coqui's Bark loads its tokenizer from bert-base-multilingual-cased
// and its codec from facebook/encodec_24khz). `pull` pulls it (and pins it)
// as a stored model of its own along with the model; `check` and `run` check
// it like the model, and `run` gives it to the command read-only in a
// Hugging Face cache, offline (docs/sandbox.md).
type Requirement struct {
	// Source is "hf://OWNER/REPO[@REVISION]".
	Source string
	// Name is its name in the store; a parsed policy holds OWNER/REPO when
	// the file gives none.
	Name string
	// LoadAs is the repository id the model's code asks huggingface_hub
	// for, which names its folder in the cache (models--LOADAS): OWNER/REPO
	// by default, or a legacy id without an owner that the Hub redirects
	// ("bert-base-multilingual-cased" for google-bert/...).
	LoadAs string
	// Allow and Ignore select the repository's files as coqui's catalog
	// and huggingface_hub.snapshot_download do (fnmatch patterns; nil Allow
	// = every file).
	Allow, Ignore []string
}

// Repo returns the requirement's OWNER/REPO (from Source).
func (r Requirement) Repo() string {
	s, err := hub.ParseSource(r.Source)
	if err != nil {
		return ""
	}
	return s.Repo
}

var requirementKeys = []string{"source", "name", "load_as", "allow", "ignore"}

// requires reads models.NAME.requires: a list whose items are a source
// string ("hf://OWNER/REPO[@REV]") or a mapping of requirementKeys.
func (ps *parser) requires(n *yaml.Node, key string) ([]Requirement, error) {
	if isNull(n) {
		return []Requirement{}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, ps.wantType(n, key, "a list of hf:// sources or mappings")
	}
	out := []Requirement{}
	names, loads := map[string]int{}, map[string]int{}
	for i, item := range n.Content {
		ik := fmt.Sprintf("%s[%d]", key, i)
		var r Requirement
		var srcNode *yaml.Node
		switch {
		case item.Kind == yaml.ScalarNode && item.ShortTag() == "!!str":
			r.Source, srcNode = item.Value, item
		case item.Kind == yaml.MappingNode:
			var nameNode, loadNode *yaml.Node
			err := ps.mapping(item, ik, requirementKeys, func(k string, _, vn *yaml.Node) error {
				var err error
				fk := join(ik, k)
				switch k {
				case "source":
					srcNode = vn
					r.Source, err = ps.str(vn, fk)
				case "name":
					nameNode = vn
					r.Name, err = ps.str(vn, fk)
				case "load_as":
					loadNode = vn
					r.LoadAs, err = ps.str(vn, fk)
				case "allow":
					if r.Allow, _, err = ps.strList(vn, fk); err == nil && r.Allow != nil && len(r.Allow) == 0 {
						err = ps.errf(vn, fk, "an empty list keeps no file: leave allow out to keep every file")
					}
				case "ignore":
					if r.Ignore, _, err = ps.strList(vn, fk); len(r.Ignore) == 0 {
						r.Ignore = nil
					}
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			if srcNode == nil || r.Source == "" {
				return nil, ps.errf(item, ik, "missing source: want source: hf://OWNER/REPO[@REVISION]")
			}
			if r.Name != "" && !ValidModelName(r.Name) {
				return nil, ps.errf(nameNode, ik+".name", "invalid model name %q", r.Name)
			}
			if r.LoadAs != "" {
				if err := validLoadAs(r.LoadAs); err != nil {
					return nil, ps.errf(loadNode, ik+".load_as", "%v", err)
				}
			}
			if err := (hub.Patterns{Allow: r.Allow, Ignore: r.Ignore}).Check(); err != nil {
				return nil, ps.errf(item, ik, "%v", err)
			}
		default:
			return nil, ps.wantType(item, ik, "an hf:// source or a mapping")
		}
		s, err := hub.ParseSource(r.Source)
		if err != nil {
			return nil, ps.errf(srcNode, ik, "%v (a requirement is a Hugging Face repository: hf://OWNER/REPO[@REVISION])", err)
		}
		if r.Name == "" {
			r.Name = s.Repo
		}
		if r.LoadAs == "" {
			r.LoadAs = s.Repo
		}
		if line, dup := names[r.Name]; dup {
			return nil, ps.errf(item, ik, "store name %q is required twice (first on line %d)", r.Name, line)
		}
		if line, dup := loads[r.LoadAs]; dup {
			return nil, ps.errf(item, ik, "%q is loaded as twice (first on line %d)", r.LoadAs, line)
		}
		names[r.Name], loads[r.LoadAs] = item.Line, item.Line
		out = append(out, r)
	}
	return out, nil
}

// validLoadAs checks a repository id as huggingface_hub's validate_repo_id
// does: NAME or OWNER/NAME, each part of letters, digits, '_', '-', '.'.
func validLoadAs(id string) error {
	if !strings.Contains(id, "/") {
		if err := hub.ParseRepoID("x/" + id); err != nil {
			return fmt.Errorf("repo id %q: want NAME or OWNER/NAME of letters, digits, '_', '-', '.'", id)
		}
		return nil
	}
	return hub.ParseRepoID(id)
}

// yamlRequirement is a requirement as MarshalYAML writes it (every key
// spelled out).
type yamlRequirement struct {
	Source string   `yaml:"source" json:"source"`
	Name   string   `yaml:"name" json:"name"`
	LoadAs string   `yaml:"load_as" json:"load_as"`
	Allow  []string `yaml:"allow,omitempty" json:"allow,omitempty"`
	Ignore []string `yaml:"ignore,omitempty" json:"ignore,omitempty"`
}

func marshalRequires(rs []Requirement) []yamlRequirement {
	out := []yamlRequirement{}
	for _, r := range rs {
		out = append(out, yamlRequirement(r))
	}
	return out
}
