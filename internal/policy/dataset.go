package policy

import (
	"fmt"
	"path"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// Dataset is how `ttsguard dataset audit` (and the audit `train` runs)
// judges training data: the policy's dataset section.
type Dataset struct {
	// FailOn is the severity at or above which the audit fails (exit 1);
	// "" means medium.
	FailOn string
	// Thresholds are the numbers behind the audio and label rules, by
	// their names in dataset.ThresholdNames; the ones not given keep
	// dataset.DefaultThresholds.
	Thresholds map[string]float64
	// Severity regrades rules: rule id -> severity name.
	Severity map[string]string
	// Ignore silences findings, by rule and optionally clip id pattern.
	Ignore []DatasetIgnore
}

// DatasetIgnore silences one rule, on every clip or on the clips whose id
// (or, for findings without a clip, metadata file) matches a pattern of
// Clips (path.Match syntax). Reason is required: it says why in review.
type DatasetIgnore struct {
	Rule   string
	Clips  []string
	Reason string
}

// Options returns the audit options the section gives: thresholds,
// severity overrides and ignores, and the severity the audit fails at.
func (d Dataset) Options() (dataset.Thresholds, map[string]scan.Severity, []dataset.Ignore, scan.Severity) {
	th := dataset.DefaultThresholds
	for _, name := range dataset.ThresholdNames() {
		if v, ok := d.Thresholds[name]; ok {
			th.Set(name, v) // validated by the parser
		}
	}
	sev := map[string]scan.Severity{}
	for rule, s := range d.Severity {
		sev[rule], _ = dataset.ParseSeverity(s)
	}
	var ign []dataset.Ignore
	for _, ig := range d.Ignore {
		ign = append(ign, dataset.Ignore(ig))
	}
	failOn := scan.Medium
	if d.FailOn != "" {
		failOn, _ = dataset.ParseSeverity(d.FailOn)
	}
	return th, sev, ign, failOn
}

var datasetKeys = []string{"fail_on", "thresholds", "severity", "ignore"}

func (ps *parser) dataset(p *Policy, n *yaml.Node) error {
	d := &p.Dataset
	return ps.mapping(n, "dataset", datasetKeys, func(k string, _, vn *yaml.Node) error {
		fk := join("dataset", k)
		switch k {
		case "fail_on":
			s, err := ps.str(vn, fk)
			if err != nil {
				return err
			}
			if _, err := dataset.ParseSeverity(s); err != nil {
				return ps.errf(vn, fk, "%v", err)
			}
			d.FailOn = s
		case "thresholds":
			th := dataset.DefaultThresholds
			d.Thresholds = map[string]float64{}
			err := ps.mapping(vn, fk, dataset.ThresholdNames(), func(name string, _, v *yaml.Node) error {
				tk := join(fk, name)
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" && v.ShortTag() != "!!float" {
					return ps.wantType(v, tk, "a number")
				}
				x, err := strconv.ParseFloat(v.Value, 64)
				if err != nil {
					return ps.wantType(v, tk, "a number")
				}
				if err := th.Set(name, x); err != nil {
					return ps.errf(v, tk, "%v", err)
				}
				d.Thresholds[name] = x
				return nil
			})
			if len(d.Thresholds) == 0 {
				d.Thresholds = nil // as printed and read back
			}
			if err == nil {
				if cerr := th.Check(); cerr != nil {
					err = ps.errf(vn, fk, "%v", cerr)
				}
			}
			return err
		case "severity":
			d.Severity = map[string]string{}
			defer func() {
				if len(d.Severity) == 0 {
					d.Severity = nil // as printed and read back
				}
			}()
			return ps.mapping(vn, fk, dataset.Rules, func(rule string, _, v *yaml.Node) error {
				sk := join(fk, rule)
				s, err := ps.str(v, sk)
				if err != nil {
					return err
				}
				if _, err := dataset.ParseSeverity(s); err != nil {
					return ps.errf(v, sk, "%v", err)
				}
				d.Severity[rule] = s
				return nil
			})
		case "ignore":
			return ps.datasetIgnore(d, vn, fk)
		}
		return nil
	})
}

var datasetIgnoreKeys = []string{"rule", "clips", "reason"}

func (ps *parser) datasetIgnore(d *Dataset, n *yaml.Node, key string) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return ps.wantType(n, key, "a list of {rule, clips, reason}")
	}
	for i, in := range n.Content {
		ik := fmt.Sprintf("%s[%d]", key, i)
		var ig DatasetIgnore
		err := ps.mapping(in, ik, datasetIgnoreKeys, func(k string, _, vn *yaml.Node) error {
			var err error
			fk := join(ik, k)
			switch k {
			case "rule":
				if ig.Rule, err = ps.str(vn, fk); err == nil && !slices.Contains(dataset.Rules, ig.Rule) {
					err = ps.errf(vn, fk, "unknown rule %q (docs/dataset-audit.md lists them)", ig.Rule)
				}
			case "clips":
				var nodes []*yaml.Node
				if ig.Clips, nodes, err = ps.strList(vn, fk); err == nil {
					for j, c := range ig.Clips {
						if _, perr := path.Match(c, ""); perr != nil || c == "" {
							return ps.errf(nodes[j], fmt.Sprintf("%s[%d]", fk, j), "%q is not a pattern (path.Match syntax)", c)
						}
					}
				}
			case "reason":
				ig.Reason, err = ps.str(vn, fk)
			}
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case isNull(in) || in.Kind != yaml.MappingNode:
			return ps.wantType(in, ik, "a mapping {rule, clips, reason}")
		case ig.Rule == "":
			return ps.errf(in, ik, "missing rule")
		case ig.Reason == "":
			return ps.errf(in, ik, "missing reason: say why the finding is silenced")
		}
		d.Ignore = append(d.Ignore, ig)
	}
	return nil
}
