package scan

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Profiles.
const (
	ProfileCoqui       = "coqui"        // default: weights-only plus what real coqui checkpoints need
	ProfileWeightsOnly = "weights-only" // mirrors torch.load(weights_only=True)
)

// Policy is an allowlist of pickle globals, by exact module and qualified
// name. Nothing else decides what is allowed: the denylist in Grade only says
// how bad a global that is not allowed is.
type Policy struct {
	Profile string
	allowed map[string]bool // "module\x00qualname"
	// importStrings are dotted class paths a coqui config may name (characters_class, ...).
	importStrings map[string]bool
}

func key(module, name string) string { return module + "\x00" + name }

// weightsOnlyGlobals mirrors the globals torch's weights-only unpickler
// accepts by default (torch/_weights_only_unpickler.py, _get_allowed_globals,
// torch 2.6 to 2.9; see docs/scan.md).
var weightsOnlyGlobals = []string{
	"collections.OrderedDict", "collections.Counter",
	"torch.nn.parameter.Parameter", "torch.Size", "torch.Tensor", "torch.device",
	"torch.serialization._get_layout", "_codecs.encode",
	"builtins.bytearray", "builtins.set", "builtins.complex",
	"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
	"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
	"torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
	"torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_nested_tensor",
	"torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_device_tensor_from_cpu_tensor",
	"torch._utils._rebuild_device_tensor_from_numpy",
	"torch._tensor._rebuild_from_type_v2",
	"torch.storage.UntypedStorage", "torch.storage.TypedStorage",
	"torch.per_tensor_affine", "torch.per_tensor_symmetric", "torch.per_channel_affine",
	"torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams",
}

// torchTypes are the dtype, storage and legacy tensor classes torch pickles
// as globals; all are allowed by the weights-only unpickler.
var torchTypes = func() []string {
	var out []string
	for _, s := range []string{"Double", "Float", "Long", "Int", "Short", "Char", "Byte", "Half", "Bool", "BFloat16",
		"ComplexFloat", "ComplexDouble", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4"} {
		out = append(out, "torch."+s+"Storage")
	}
	for _, d := range []string{"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "bfloat16",
		"complex128", "complex64", "qint8", "qint32", "quint8", "quint4x2", "quint2x4",
		"float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
		"bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "complex32", "uint16", "uint32", "uint64",
		"uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "int1", "int2", "int3", "int4", "int5", "int6", "int7"} {
		out = append(out, "torch."+d)
	}
	for _, m := range []string{"torch", "torch.cuda", "torch.sparse", "torch.cuda.sparse"} {
		for _, t := range []string{"Byte", "Char", "Double", "Float", "Int", "Long", "Short", "Half", "Bool", "BFloat16"} {
			if t == "Bool" && strings.HasSuffix(m, "sparse") {
				continue
			}
			out = append(out, m+"."+t+"Tensor")
		}
	}
	return out
}()

// blockedModules can never be allowed, as in torch's weights-only unpickler.
var blockedModules = map[string]bool{"sys": true, "os": true, "posix": true, "nt": true}

// coquiGlobals are what real coqui TTS checkpoints reference beyond weights-only.
var coquiGlobals = []string{
	"builtins.dict", "__builtin__.dict", "collections.defaultdict",
	"TTS.utils.radam.RAdam",
	"TTS.config.shared_configs.BaseDatasetConfig",
	"TTS.tts.configs.xtts_config.XttsConfig",
	"TTS.tts.models.xtts.XttsArgs",
	"TTS.tts.models.xtts.XttsAudioConfig",
	"numpy.dtypes.Float64DType",
	"_codecs.encode",
}

// numpyGlobals are numpy's reconstruction helpers, under numpy.core (numpy 1)
// and numpy._core (numpy 2).
var numpyGlobals = func() []string {
	var out []string
	for _, m := range []string{"numpy.core.multiarray", "numpy._core.multiarray"} {
		out = append(out, m+"._reconstruct", m+".scalar")
	}
	return append(out, "numpy.ndarray", "numpy.dtype")
}()

// coquiImportStrings are class paths a coqui config.json may name.
var coquiImportStrings = []string{
	"TTS.tts.utils.text.characters.Graphemes", "TTS.tts.utils.text.characters.IPAPhonemes",
	"TTS.tts.models.vits.VitsCharacters", "TTS.tts.utils.text.characters.BaseCharacters",
}

// NewPolicy returns the policy of a profile plus extra allowed globals
// ("module.qualname", or "module:qualname" when the module has dots that
// would be ambiguous). Dunder names can never be allowed.
func NewPolicy(profile string, extra []string) (*Policy, error) {
	p := &Policy{Profile: profile, allowed: map[string]bool{}, importStrings: map[string]bool{}}
	var names []string
	switch profile {
	case ProfileWeightsOnly:
		names = slices.Concat(weightsOnlyGlobals, torchTypes)
	case "", ProfileCoqui:
		p.Profile = ProfileCoqui
		names = slices.Concat(weightsOnlyGlobals, torchTypes, coquiGlobals, numpyGlobals)
		for _, s := range coquiImportStrings {
			p.importStrings[s] = true
		}
	default:
		return nil, fmt.Errorf("scan profile %q: want coqui or weights-only", profile)
	}
	for _, n := range names {
		m, q := splitDotted(n)
		p.allowed[key(m, q)] = true
	}
	for _, n := range extra {
		m, q, ok := strings.Cut(n, ":")
		if !ok {
			m, q = splitDotted(n)
		}
		if m == "" || q == "" {
			return nil, fmt.Errorf("allowed global %q: want module.name or module:qualname", n)
		}
		if hasDunder(m + "." + q) {
			return nil, fmt.Errorf("allowed global %q: dunder names are never allowed", n)
		}
		if sev, why := Grade(m, q); blockedModules[m] || sev == Critical {
			return nil, fmt.Errorf("allowed global %q: a policy cannot allow code execution (%s)", n, why)
		}
		p.allowed[key(m, q)] = true
		p.importStrings[m+"."+q] = true
	}
	return p, nil
}

// splitDotted splits "a.b.C" at the last dot.
func splitDotted(s string) (string, string) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+1:]
}

// hasDunder reports whether any dotted part of s is a dunder name.
func hasDunder(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if len(part) > 4 && strings.HasPrefix(part, "__") && strings.HasSuffix(part, "__") {
			return true
		}
	}
	return false
}

// Allowed reports whether the global (module, qualname) is on the allowlist:
// exact match on both parts, valid UTF-8, no dunder part.
func (p *Policy) Allowed(module, name string) bool {
	if blockedModules[module] || !utf8.ValidString(module) || !utf8.ValidString(name) || hasDunder(name) || hasDunder(module) {
		return false
	}
	return p.allowed[key(module, name)]
}

// AllowedImportString reports whether a dotted class path named in a config
// (characters_class and the like) is on the profile's list.
func (p *Policy) AllowedImportString(s string) bool {
	return !hasDunder(s) && p.importStrings[s]
}

// Globals lists the allowed globals, sorted, as "module.qualname".
func (p *Policy) Globals() []string {
	var out []string
	for k := range p.allowed {
		m, q, _ := strings.Cut(k, "\x00")
		out = append(out, m+"."+q)
	}
	slices.Sort(out)
	return out
}
