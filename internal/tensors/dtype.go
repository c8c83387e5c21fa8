package tensors

// DType is an element type, named as torch names it ("float32", "bfloat16").
type DType string

// dtypes: element size in bytes, and whether the diff measures changes
// numerically.
var dtypes = map[DType]struct {
	size  int64
	float bool
}{
	"float64": {8, true}, "float32": {4, true}, "float16": {2, true}, "bfloat16": {2, true},
	"int64": {8, false}, "int32": {4, false}, "int16": {2, false}, "int8": {1, false}, "uint8": {1, false},
	"uint16": {2, false}, "uint32": {4, false}, "uint64": {8, false}, "bool": {1, false},
	"complex64": {8, false}, "complex128": {16, false},
	"float8_e4m3fn": {1, false}, "float8_e5m2": {1, false}, "float8_e4m3fnuz": {1, false}, "float8_e5m2fnuz": {1, false},
	"qint8": {1, false}, "quint8": {1, false}, "qint32": {4, false},
}

// Size is the size of one element in bytes, 0 for an unknown dtype.
func (d DType) Size() int64 { return dtypes[d].size }

// Float reports whether d is a floating-point type whose changes the diff
// measures (float64, float32, float16, bfloat16).
func (d DType) Float() bool { return dtypes[d].float }

// storageDTypes maps torch's legacy typed storage classes (the storage type
// of a persistent id) to their dtype.
var storageDTypes = map[string]DType{
	"torch.DoubleStorage": "float64", "torch.FloatStorage": "float32", "torch.HalfStorage": "float16",
	"torch.BFloat16Storage": "bfloat16", "torch.LongStorage": "int64", "torch.IntStorage": "int32",
	"torch.ShortStorage": "int16", "torch.CharStorage": "int8", "torch.ByteStorage": "uint8",
	"torch.BoolStorage": "bool", "torch.ComplexFloatStorage": "complex64", "torch.ComplexDoubleStorage": "complex128",
	"torch.QInt8Storage": "qint8", "torch.QUInt8Storage": "quint8", "torch.QInt32Storage": "qint32",
	"torch.UntypedStorage": "uint8", "torch.storage.UntypedStorage": "uint8",
}

// safetensorsDTypes maps safetensors dtypes to torch's names.
var safetensorsDTypes = map[string]DType{
	"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
	"I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
	"U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool", "C64": "complex64",
	"F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
}
