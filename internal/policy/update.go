package policy

import (
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ModelUpdate says what a new version of a model may change (models.NAME.update):
// `lock update`, and a pull that replaces the stored version, compare the
// two versions' weights (internal/weightdiff) and refuse an update that
// breaks it.
type ModelUpdate struct {
	// Frozen are path.Match patterns of weight names (state-dict keys such
	// as "text_encoder.emb.weight") that an update must not change, add or
	// remove.
	Frozen []string
	// MaxRelativeChange, when set, is the largest relative L2 change
	// ||new - old|| / ||old|| an update may make to any weight.
	MaxRelativeChange *float64
}

// Empty reports whether u refuses nothing.
func (u ModelUpdate) Empty() bool { return len(u.Frozen) == 0 && u.MaxRelativeChange == nil }

// modelUpdate reads {frozen: [patterns], max_relative_change: number}.
func (ps *parser) modelUpdate(n *yaml.Node, key string) (ModelUpdate, error) {
	var u ModelUpdate
	err := ps.mapping(n, key, []string{"frozen", "max_relative_change"}, func(k string, _, vn *yaml.Node) error {
		fk := join(key, k)
		switch k {
		case "frozen":
			list, nodes, err := ps.strList(vn, fk)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for i, pat := range list {
				ik := fmt.Sprintf("%s[%d]", fk, i)
				if why := badTensorPattern(pat); why != "" {
					return ps.errf(nodes[i], ik, "pattern %q: %s", pat, why)
				}
				if seen[pat] {
					return ps.errf(nodes[i], ik, "%q is listed twice", pat)
				}
				seen[pat] = true
			}
			if len(list) > 0 {
				u.Frozen = list
			}
		case "max_relative_change":
			if isNull(vn) {
				return nil
			}
			tag := vn.ShortTag()
			v, err := strconv.ParseFloat(vn.Value, 64)
			if vn.Kind != yaml.ScalarNode || (tag != "!!float" && tag != "!!int") || err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return ps.errf(vn, fk, "want a number of at least 0 (0.05 allows a relative change of 5%%), got %s", describe(vn))
			}
			u.MaxRelativeChange = &v
		}
		return nil
	})
	return u, err
}

// badTensorPattern says what is wrong with a frozen pattern ("" when nothing).
func badTensorPattern(pat string) string {
	switch {
	case pat == "":
		return "empty"
	case strings.ContainsFunc(pat, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "a control character"
	}
	if _, err := path.Match(pat, ""); err != nil {
		return "not a glob (path.Match syntax: *, ?, [a-z], \\ escapes)"
	}
	return ""
}

type yamlUpdate struct {
	Frozen            []string `yaml:"frozen,omitempty" json:"frozen,omitempty"`
	MaxRelativeChange *float64 `yaml:"max_relative_change,omitempty" json:"max_relative_change,omitempty"`
}
