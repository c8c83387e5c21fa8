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
// accepts by default (torch/_weights_only_unpickler.py, _get_allowed_globals).
var weightsOnlyGlobals = []string{
	"collections.OrderedDict", "collections.Counter",
	"torch.nn.parameter.Parameter", "torch.Size", "torch.Tensor", "torch.device",
	"torch.serialization._get_layout",
	"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
	"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
	"torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
	"torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_nested_tensor",
	"torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_device_tensor_from_cpu_tensor",
	"torch._utils._rebuild_device_tensor_from_numpy",
	"torch._tensor._rebuild_from_type_v2",
	"torch.storage.UntypedStorage", "torch.storage.TypedStorage",
	"builtins.set", "builtins.frozenset", "builtins.bytearray",
	"_codecs.encode",
}

// torchTypes are the dtype, storage, layout, memory-format and qscheme names
// torch pickles as globals; all are allowed by the weights-only unpickler.
var torchTypes = func() []string {
	var out []string
	for _, s := range []string{"Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
		"ComplexFloat", "ComplexDouble", "QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4", "Untyped"} {
		out = append(out, "torch."+s+"Storage")
	}
	for _, d := range []string{"float32", "float", "float64", "double", "float16", "half", "bfloat16", "uint8", "int8",
		"int16", "short", "int32", "int", "int64", "long", "bool", "complex32", "complex64", "cfloat", "complex128", "cdouble",
		"qint8", "quint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
		"uint16", "uint32", "uint64", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
		"strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "_mkldnn", "jagged",
		"contiguous_format", "channels_last", "channels_last_3d", "preserve_format",
		"per_tensor_affine", "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric", "per_channel_affine_float_qparams"} {
		out = append(out, "torch."+d)
	}
	return out
}()

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
	if !utf8.ValidString(module) || !utf8.ValidString(name) || hasDunder(name) || hasDunder(module) {
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
