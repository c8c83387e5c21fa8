package coqui

import "testing"

// TestLicenseOfTOSModels is issue 15 item 8: the refusal of a model whose
// terms need agreeing to names its licence and where to read it. XTTS's
// catalog entries (URL lists and Hugging Face repositories alike) say CPML.
func TestLicenseOfTOSModels(t *testing.T) {
	want := `licence "CPML", the Coqui Public Model License (non-commercial use; commercial use needs a licence from Coqui), at https://tts-hub.github.io/cpml`
	for _, tc := range []struct{ catalog, id string }{
		{"testdata/models.json", "tts_models/multilingual/multi-dataset/xtts_v2"},
		{"testdata/models-hub.json", "tts_models/multilingual/multi-dataset/xtts_v2"},
		{"testdata/models.json", "xtts_v2.0.2"}, // a synthetic XTTS version entry
	} {
		c, err := LoadCatalog(tc.catalog)
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.Resolve(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if !e.TOSRequired {
			t.Errorf("%s %s: not tos_required", tc.catalog, tc.id)
		}
		if got := e.LicenseInfo().String(); got != want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.catalog, tc.id, got, want)
		}
	}
}

func TestLicenseOf(t *testing.T) {
	cases := []struct{ name, want string }{
		{"Apache 2.0", `licence "Apache 2.0", at https://choosealicense.com/licenses/apache-2.0/`},
		{" cpml ", `licence "cpml", the Coqui Public Model License (non-commercial use; commercial use needs a licence from Coqui), at https://tts-hub.github.io/cpml`},
		{"bsd-3-clause", `licence "bsd-3-clause", with no address in the catalog to read it at`},
		{"", "the catalog names no licence"},
		{"evil\x1b[2J\nlicence", `licence "evil\x1b[2J\nlicence", with no address in the catalog to read it at`},
	}
	for _, tc := range cases {
		if got := LicenseOf(tc.name).String(); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
