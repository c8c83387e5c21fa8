package policy

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML shape of a policy, for MarshalYAML. Field order is the order of
// docs/policy.md.
type yamlPolicy struct {
	Version  int                  `yaml:"version" json:"version"`
	Store    any                  `yaml:"store,omitempty" json:"store,omitempty"` // a path, or yamlStore
	Sources  []string             `yaml:"sources" json:"sources"`
	CABundle string               `yaml:"ca_bundle,omitempty" json:"ca_bundle,omitempty"`
	Signers  []yamlSigner         `yaml:"signers,omitempty" json:"signers,omitempty"`
	Models   map[string]yamlModel `yaml:"models,omitempty" json:"models,omitempty"`
	Scan     yamlScan             `yaml:"scan" json:"scan"`
	Run      yamlRun              `yaml:"run,omitempty" json:"run,omitempty"`
	Access   *yamlAccess          `yaml:"access,omitempty" json:"access,omitempty"`
	Dataset  *yamlDataset         `yaml:"dataset,omitempty" json:"dataset,omitempty"`
	Channels []yamlChannel        `yaml:"channels,omitempty" json:"channels,omitempty"`
}

type yamlChannel struct {
	Name       string   `yaml:"name" json:"name"`
	URL        string   `yaml:"url" json:"url"`
	Root       string   `yaml:"root" json:"root"`
	RootSHA256 string   `yaml:"root_sha256" json:"root_sha256"`
	Models     []string `yaml:"models" json:"models"`
}

type yamlDataset struct {
	FailOn     string             `yaml:"fail_on,omitempty" json:"fail_on,omitempty"`
	Thresholds map[string]float64 `yaml:"thresholds,omitempty" json:"thresholds,omitempty"`
	Severity   map[string]string  `yaml:"severity,omitempty" json:"severity,omitempty"`
	Ignore     []yamlIgnore       `yaml:"ignore,omitempty" json:"ignore,omitempty"`
}

type yamlIgnore struct {
	Rule   string   `yaml:"rule" json:"rule"`
	Clips  []string `yaml:"clips,omitempty" json:"clips,omitempty"`
	Reason string   `yaml:"reason" json:"reason"`
}

type yamlSigner struct {
	Name             string   `yaml:"name" json:"name"`
	PublicKey        string   `yaml:"public_key,omitempty" json:"public_key,omitempty"`
	CertificateChain []string `yaml:"certificate_chain,omitempty" json:"certificate_chain,omitempty"`
	Identity         string   `yaml:"identity,omitempty" json:"identity,omitempty"`
	Issuer           string   `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	TrustRoot        string   `yaml:"trust_root,omitempty" json:"trust_root,omitempty"`
	AllowAnyEKU      bool     `yaml:"allow_any_eku,omitempty" json:"allow_any_eku,omitempty"`
}

type yamlModel struct {
	Source       string             `yaml:"source,omitempty" json:"source,omitempty"`
	URLs         []string           `yaml:"urls,omitempty" json:"urls,omitempty"`
	Digest       string             `yaml:"digest,omitempty" json:"digest,omitempty"`
	Signature    string             `yaml:"signature" json:"signature"`
	Signers      []string           `yaml:"signers,omitempty" json:"signers,omitempty"`
	TOSAccepted  bool               `yaml:"tos_accepted" json:"tos_accepted"`
	Files        *yamlFiles         `yaml:"files,omitempty" json:"files,omitempty"`
	Requires     *[]yamlRequirement `yaml:"requires,omitempty" json:"requires,omitempty"` // nil: not given
	Update       *yamlUpdate        `yaml:"update,omitempty" json:"update,omitempty"`
	Provenance   *yamlProvenance    `yaml:"provenance,omitempty" json:"provenance,omitempty"`
	DatasetAudit bool               `yaml:"dataset_audit,omitempty" json:"dataset_audit,omitempty"`
}

type yamlFiles struct {
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
}

type yamlScan struct {
	Profile      string   `yaml:"profile" json:"profile"`
	AllowGlobals []string `yaml:"allow_globals,omitempty" json:"allow_globals,omitempty"`
}

type yamlRun struct {
	User      string      `yaml:"user,omitempty" json:"user,omitempty"`
	Group     string      `yaml:"group,omitempty" json:"group,omitempty"`
	AllowRead []string    `yaml:"allow_read,omitempty" json:"allow_read,omitempty"`
	Env       []string    `yaml:"env,omitempty" json:"env,omitempty"`
	Limits    *yamlLimits `yaml:"limits,omitempty" json:"limits,omitempty"`
	GPU       bool        `yaml:"gpu,omitempty" json:"gpu,omitempty"`
	Verify    string      `yaml:"verify,omitempty" json:"verify,omitempty"`
}

type yamlLimits struct {
	Memory    string `yaml:"memory,omitempty" json:"memory,omitempty"`
	Processes string `yaml:"processes,omitempty" json:"processes,omitempty"`
	FileSize  string `yaml:"file_size,omitempty" json:"file_size,omitempty"`
	OpenFiles string `yaml:"open_files,omitempty" json:"open_files,omitempty"`
	Scratch   string `yaml:"scratch,omitempty" json:"scratch,omitempty"`
}

// marshalRun writes the run section; limits left at their defaults are
// left out.
func marshalRun(r Run) yamlRun {
	y := yamlRun{User: r.User, Group: r.Group, AllowRead: r.AllowRead, Env: r.Env, GPU: r.GPU, Verify: r.Verify}
	if r.Limits != (RunLimits{}) {
		l := r.Limits
		y.Limits = &yamlLimits{Memory: formatLimit(l.Memory, true), Processes: formatLimit(l.Processes, false),
			FileSize: formatLimit(l.FileSize, true), OpenFiles: formatLimit(l.OpenFiles, false), Scratch: formatLimit(l.Scratch, true)}
	}
	return y
}

// formatLimit writes a limit as parseLimit reads it ("" for the default).
func formatLimit(v int64, size bool) string {
	switch {
	case v == 0:
		return ""
	case v == Unlimited:
		return "unlimited"
	}
	if size {
		for _, u := range sizeUnits {
			if u.shift > 0 && v%(1<<u.shift) == 0 {
				return strconv.FormatInt(v>>u.shift, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(v, 10)
}

// MarshalYAML returns the effective policy in the policy file format, with
// the defaults spelled out (sources, model signature, scan profile); Parse
// reads it back to the same policy.
func (p *Policy) MarshalYAML() (any, error) {
	y := yamlPolicy{
		Version:  Version,
		Store:    marshalStore(p),
		Sources:  append([]string{}, p.Sources...),
		CABundle: p.CABundle,
		Scan:     yamlScan{Profile: p.Scan.Profile, AllowGlobals: p.Scan.AllowGlobals},
		Run:      marshalRun(p.Run),
		Access:   marshalAccess(p.Access),
	}
	if d := p.Dataset; d.FailOn != "" || len(d.Thresholds) > 0 || len(d.Severity) > 0 || len(d.Ignore) > 0 {
		y.Dataset = &yamlDataset{FailOn: d.FailOn, Thresholds: d.Thresholds, Severity: d.Severity}
		for _, ig := range d.Ignore {
			y.Dataset.Ignore = append(y.Dataset.Ignore, yamlIgnore(ig))
		}
	}
	if y.Scan.Profile == "" {
		y.Scan.Profile = ProfileCoqui
	}
	for _, c := range p.Channels {
		y.Channels = append(y.Channels, yamlChannel(c))
	}
	for _, s := range p.Signers {
		y.Signers = append(y.Signers, yamlSigner(s))
	}
	for name, m := range p.Models {
		if y.Models == nil {
			y.Models = map[string]yamlModel{}
		}
		if m.Signature == "" {
			m.Signature = SignatureOptional
		}
		ym := yamlModel{Source: m.Source, URLs: m.URLs, Digest: m.Digest, Signature: m.Signature, Signers: m.Signers, TOSAccepted: m.TOSAccepted, DatasetAudit: m.DatasetAudit}
		if len(m.Files.Exclude) > 0 {
			ym.Files = &yamlFiles{Exclude: m.Files.Exclude}
		}
		if !m.Update.Empty() {
			ym.Update = &yamlUpdate{Frozen: m.Update.Frozen, MaxRelativeChange: m.Update.MaxRelativeChange}
		}
		if mp := m.Provenance; !mp.Empty() {
			ym.Provenance = &yamlProvenance{Required: mp.Required, Signers: mp.Signers, Datasets: mp.Datasets, BaseModels: mp.BaseModels}
		}
		if m.RequiresSet {
			rs := marshalRequires(m.Requires)
			ym.Requires = &rs
		}
		y.Models[name] = ym
	}
	return y, nil
}

// String returns the effective policy as YAML (see MarshalYAML), for
// `ttsguard policy check`.
func (p *Policy) String() string {
	v, _ := p.MarshalYAML()
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "# error: " + err.Error() + "\n"
	}
	enc.Close()
	return b.String()
}
