package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestModelProvenance(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	in := "version: 1\nsigners:\n  - {name: trainer, public_key: /k.pub}\nmodels:\n  a:\n    provenance:\n      required: true\n      signers: [trainer]\n" +
		"      datasets: [\"" + d1 + "\", \"" + d2 + "\"]\n      base_models: [tts_models/en/ljspeech/vits, \"" + d2 + "\"]\n" +
		"  b:\n    provenance: {datasets: [\"" + d1 + "\"]}\n    dataset_audit: true\n  c:\n    provenance: {required: false}\n  d: {}\n"
	p, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Models["a"].Provenance
	if !a.Required || !slices.Equal(a.Signers, []string{"trainer"}) || !slices.Equal(a.Datasets, []string{d1, d2}) ||
		!slices.Equal(a.BaseModels, []string{"tts_models/en/ljspeech/vits", d2}) {
		t.Errorf("a: %+v", a)
	}
	if !a.BaseApproved("tts_models/en/ljspeech/vits", d1) || !a.BaseApproved("other", d2) || a.BaseApproved("other", d1) {
		t.Error("BaseApproved")
	}
	if !a.DatasetApproved(d2) || a.DatasetApproved("sha256:"+strings.Repeat("c", 64)) {
		t.Error("DatasetApproved")
	}
	// datasets alone make provenance needed; required: false alone does not.
	if b := p.Models["b"].Provenance; !b.Needed() || b.Required {
		t.Errorf("b: %+v", b)
	}
	if c, d := p.Models["c"].Provenance, p.Models["d"].Provenance; c.Needed() || !c.Empty() || !d.Empty() || !d.DatasetApproved(d1) || !d.BaseApproved("x", d1) {
		t.Errorf("c, d: %+v %+v", c, d)
	}
	s := p.String()
	q, err := Parse("q.yaml", []byte(s))
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	if qa := q.Models["a"].Provenance; !qa.Required || !slices.Equal(qa.Signers, a.Signers) || !slices.Equal(qa.Datasets, a.Datasets) || !slices.Equal(qa.BaseModels, a.BaseModels) {
		t.Errorf("round trip: %+v\n%s", qa, s)
	}
	if !p.Models["b"].DatasetAudit || p.Models["a"].DatasetAudit || !q.Models["b"].DatasetAudit {
		t.Error("dataset_audit")
	}
	if qb := q.Models["b"].Provenance; !slices.Equal(qb.Datasets, []string{d1}) {
		t.Errorf("round trip b: %+v", qb)
	}
}

func TestModelProvenanceErrors(t *testing.T) {
	v := "version: 1\nmodels:\n  a:\n    provenance:\n"
	d := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct{ in, want string }{
		{v + "      require: true\n", `policy "p.yaml": line 5: models["a"].provenance: unknown key "require"`},
		{v + "      required: yes please\n", `models["a"].provenance.required`},
		{v + "      datasets: [\"sha256:abc\"]\n", `policy "p.yaml": line 5: models["a"].provenance.datasets[0]: "sha256:abc": not a root digest`},
		{v + "      datasets: [\"" + d + "\", \"" + d + "\"]\n", `models["a"].provenance.datasets[1]: "` + d + `" is listed twice`},
		{v + "      base_models: [\"../x\"]\n", `models["a"].provenance.base_models[0]: "../x": want a root digest`},
		{v + "      signers: [nobody]\n", `models["a"].provenance.signers[0]: "nobody": no signer of that name`},
	} {
		_, err := Parse("p.yaml", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}
