package policy

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// ModelProvenance says what a model's training provenance must show
// (models.NAME.provenance): the provenance.sig that `ttsguard train` writes,
// checked by pull, check, run and audit (docs/provenance.md).
type ModelProvenance struct {
	// Required: the model must carry a provenance.sig that verifies.
	Required bool
	// Signers name the policy's signers whose provenance is accepted;
	// empty = the model's signers (SignersFor).
	Signers []string
	// Datasets are the approved dataset roots ("sha256:<hex>", what
	// `ttsguard digest DIR` prints): every dataset the provenance names
	// must be one of them. Empty = any.
	Datasets []string
	// BaseModels are the approved base models: a root digest
	// ("sha256:<hex>") or a model name (the base's stored name, as the
	// provenance records it). A model trained from a base must name one;
	// a model trained from scratch has none. Empty = any.
	BaseModels []string
}

// Needed reports whether a model without a verified provenance fails:
// it is required, or datasets or base models are restricted.
func (p ModelProvenance) Needed() bool {
	return p.Required || len(p.Datasets) > 0 || len(p.BaseModels) > 0
}

// Empty reports whether p sets nothing.
func (p ModelProvenance) Empty() bool { return !p.Needed() && len(p.Signers) == 0 }

// BaseApproved reports whether a base model of that name and root is in
// BaseModels (true when BaseModels is empty).
func (p ModelProvenance) BaseApproved(name, root string) bool {
	return len(p.BaseModels) == 0 || slices.Contains(p.BaseModels, root) || slices.Contains(p.BaseModels, name)
}

// DatasetApproved reports whether a dataset root is in Datasets (true when
// Datasets is empty).
func (p ModelProvenance) DatasetApproved(root string) bool {
	return len(p.Datasets) == 0 || slices.Contains(p.Datasets, root)
}

var provenanceKeys = []string{"required", "signers", "datasets", "base_models"}

// modelProvenance reads {required, signers, datasets, base_models}.
// Signers are checked against the policy's once it is read (deferred).
func (ps *parser) modelProvenance(p *Policy, n *yaml.Node, key string) (ModelProvenance, error) {
	var mp ModelProvenance
	var signerNodes []*yaml.Node
	err := ps.mapping(n, key, provenanceKeys, func(k string, _, vn *yaml.Node) error {
		fk := join(key, k)
		var err error
		switch k {
		case "required":
			mp.Required, err = ps.boolean(vn, fk)
		case "signers":
			mp.Signers, signerNodes, err = ps.strList(vn, fk)
		case "datasets":
			var nodes []*yaml.Node
			if mp.Datasets, nodes, err = ps.strList(vn, fk); err == nil {
				err = ps.uniqueEach(fk, mp.Datasets, nodes, func(s string) string {
					if !manifestDigest.MatchString(s) {
						return "not a root digest: want sha256:<64 lowercase hex digits> (ttsguard digest DIR prints it)"
					}
					return ""
				})
			}
		case "base_models":
			var nodes []*yaml.Node
			if mp.BaseModels, nodes, err = ps.strList(vn, fk); err == nil {
				err = ps.uniqueEach(fk, mp.BaseModels, nodes, func(s string) string {
					if !manifestDigest.MatchString(s) && !ValidModelName(s) {
						return "want a root digest (sha256:<64 lowercase hex digits>) or a model name"
					}
					return ""
				})
			}
		}
		return err
	})
	if err != nil {
		return mp, err
	}
	ps.deferred = append(ps.deferred, func() error {
		return ps.uniqueEach(join(key, "signers"), mp.Signers, signerNodes, func(name string) string {
			for _, s := range p.Signers {
				if s.Name == name {
					return ""
				}
			}
			return "no signer of that name (define it under signers)"
		})
	})
	return mp, nil
}

// uniqueEach checks every element of a list: bad says what is wrong with
// one ("" when nothing); an element listed twice is an error too.
func (ps *parser) uniqueEach(key string, list []string, nodes []*yaml.Node, bad func(string) string) error {
	seen := map[string]bool{}
	for i, s := range list {
		ik := fmt.Sprintf("%s[%d]", key, i)
		if why := bad(s); why != "" {
			return ps.errf(nodes[i], ik, "%q: %s", s, why)
		}
		if seen[s] {
			return ps.errf(nodes[i], ik, "%q is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

type yamlProvenance struct {
	Required   bool     `yaml:"required" json:"required"`
	Signers    []string `yaml:"signers,omitempty" json:"signers,omitempty"`
	Datasets   []string `yaml:"datasets,omitempty" json:"datasets,omitempty"`
	BaseModels []string `yaml:"base_models,omitempty" json:"base_models,omitempty"`
}
