package weightdiff

import (
	"fmt"
	"path"
)

// Rules are a model's update policy (policy models.NAME.update).
type Rules struct {
	// Frozen are patterns (path.Match syntax: "text_encoder.*") of weight
	// names an update must not change, add or remove.
	Frozen []string
	// MaxRelativeChange, when set, is the largest relative L2 change an
	// update may make to any weight.
	MaxRelativeChange *float64
}

// Empty reports whether the rules refuse nothing.
func (r Rules) Empty() bool { return len(r.Frozen) == 0 && r.MaxRelativeChange == nil }

// Violation is one reason to refuse an update.
type Violation struct {
	File   string `json:"file,omitempty"`
	Tensor string `json:"tensor,omitempty"`
	Rule   string `json:"rule"` // "frozen", "max_relative_change", "unpaired", "unreadable"
	Detail string `json:"detail"`
}

func (v Violation) String() string {
	s := v.Rule + ": "
	if v.Tensor != "" {
		s += v.Tensor + " (" + v.File + "): "
	} else if v.File != "" {
		s += v.File + ": "
	}
	return s + v.Detail
}

// Check returns every violation of rules by the diff. Only the weights (the
// model's state dict, what coqui loads) are held to the rules; what cannot
// be compared (a checkpoint that does not read, one without a counterpart, a
// tensor whose elements cannot be read) is a violation whenever there are
// rules: a check that could not be completed does not pass.
func (r *Result) Check(rules Rules) []Violation {
	if rules.Empty() {
		return nil
	}
	var out []Violation
	for _, f := range r.Unpaired {
		out = append(out, Violation{File: f.Path, Rule: "unpaired", Detail: fmt.Sprintf("checkpoint %s in the new version only or the old only: its tensors cannot be compared", f.Change)})
	}
	for _, ck := range r.Checkpoints {
		if ck.Error != "" {
			out = append(out, Violation{File: ck.New, Rule: "unreadable", Detail: ck.Error})
			continue
		}
		for _, t := range ck.Tensors {
			if !t.Weight {
				continue
			}
			v := Violation{File: ck.New, Tensor: t.Name}
			if p := frozenBy(rules.Frozen, t.Name); p != "" {
				v.Rule, v.Detail = "frozen", fmt.Sprintf("matches frozen pattern %q and was %s%s", p, t.Change, t.amount())
				out = append(out, v)
				continue
			}
			if rules.MaxRelativeChange == nil {
				continue
			}
			limit := *rules.MaxRelativeChange
			v.Rule = "max_relative_change"
			switch {
			case t.Change == Changed && t.Relative != nil && *t.Relative <= limit:
				continue
			case t.Change == Changed && t.Relative != nil:
				v.Detail = fmt.Sprintf("relative change %.6g exceeds %g", *t.Relative, limit)
			case t.Change == Changed:
				v.Detail = fmt.Sprintf("changed, and the change cannot be held to %g: %s", limit, t.Note)
			default:
				v.Detail = fmt.Sprintf("%s%s: more than a relative change of %g", t.Change, t.amount(), limit)
			}
			out = append(out, v)
		}
	}
	return out
}

// amount describes a change's size for a message.
func (t TensorChange) amount() string {
	switch {
	case t.Relative != nil:
		return fmt.Sprintf(" (relative change %.6g)", *t.Relative)
	case t.Change == Reshaped:
		return fmt.Sprintf(" (%v -> %v)", t.OldShape, t.NewShape)
	case t.Note != "":
		return " (" + t.Note + ")"
	}
	return ""
}

// frozenBy returns the first pattern that matches name, "" when none does.
func frozenBy(patterns []string, name string) string {
	for _, p := range patterns {
		if ok, err := path.Match(p, name); ok || err != nil {
			return p // a bad pattern (refused by the policy parser) freezes everything
		}
	}
	return ""
}
