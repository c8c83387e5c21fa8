package scan

import (
	"strings"
	"unicode/utf8"
)

// denyRule grades globals that are not allowed. Prefixes match whole dotted
// parts of "module.qualname"; the first, most specific, match wins.
type denyRule struct {
	prefix string
	sev    Severity
	why    string
}

var denylist = []denyRule{
	{"builtins.exec", Critical, "executes code"}, {"builtins.eval", Critical, "executes code"},
	{"builtins.compile", Critical, "compiles code"}, {"builtins.getattr", Critical, "reaches any attribute"},
	{"builtins.setattr", Critical, "changes any attribute"}, {"builtins.delattr", Critical, "changes any attribute"},
	{"builtins.__import__", Critical, "imports any module"}, {"builtins.globals", Critical, "reaches interpreter state"},
	{"builtins.locals", Critical, "reaches interpreter state"}, {"builtins.vars", Critical, "reaches interpreter state"},
	{"builtins.breakpoint", Critical, "starts a debugger"}, {"builtins.open", Critical, "reads and writes files"},
	{"builtins.input", High, "reads the terminal"}, {"builtins.print", Medium, "writes output"},
	{"os", Critical, "operating-system calls"}, {"posix", Critical, "operating-system calls"}, {"nt", Critical, "operating-system calls"},
	{"subprocess", Critical, "runs programs"}, {"pty", Critical, "runs programs"}, {"commands", Critical, "runs programs"},
	{"runpy", Critical, "runs modules"}, {"pip", Critical, "installs and runs packages"}, {"setuptools", Critical, "runs build code"},
	{"importlib", Critical, "imports any module"}, {"imp", Critical, "imports any module"}, {"pkgutil", Critical, "resolves any name"},
	{"pydoc", Critical, "resolves any name"}, {"code", Critical, "executes code"}, {"codeop", Critical, "compiles code"},
	{"types.CodeType", Critical, "builds code objects"}, {"types.FunctionType", Critical, "builds functions"},
	{"types", High, "builds interpreter objects"},
	{"operator.attrgetter", Critical, "reaches any attribute"}, {"operator.methodcaller", Critical, "calls any method"},
	{"operator", High, "calls operators on objects"},
	{"functools.partial", Critical, "builds arbitrary calls"}, {"functools", High, "builds calls"},
	{"multiprocessing", Critical, "starts processes"}, {"concurrent", Critical, "starts workers"}, {"threading", High, "starts threads"},
	{"ctypes", Critical, "calls native code"}, {"cffi", Critical, "calls native code"}, {"sys", Critical, "reaches interpreter state"},
	{"marshal", Critical, "loads code objects"}, {"pickle", Critical, "nested unpickling"}, {"_pickle", Critical, "nested unpickling"},
	{"cPickle", Critical, "nested unpickling"}, {"dill", Critical, "nested unpickling"}, {"cloudpickle", Critical, "nested unpickling"},
	{"joblib", Critical, "nested unpickling"}, {"shelve", Critical, "nested unpickling"}, {"copyreg", Critical, "registers pickle extensions"},
	{"torch.load", Critical, "nested torch.load"}, {"torch.storage._load_from_bytes", Critical, "nested torch.load"},
	{"torch.serialization.load", Critical, "nested torch.load"}, {"torch.jit", Critical, "TorchScript"},
	{"torch.hub", Critical, "downloads and runs code"}, {"torch._C", Critical, "native internals"}, {"torch.ops", Critical, "native operators"},
	{"numpy.load", Critical, "nested unpickling"}, {"numpy.lib.npyio", Critical, "nested unpickling"}, {"numpy.testing", High, "runs helpers"},
	{"numpy.f2py", Critical, "compiles code"}, {"numpy.distutils", Critical, "runs build code"},
	{"timeit", Critical, "executes code"}, {"trace", Critical, "executes code"}, {"profile", Critical, "executes code"},
	{"cProfile", Critical, "executes code"}, {"pdb", Critical, "starts a debugger"}, {"bdb", Critical, "executes code"},
	{"asyncio", Critical, "runs programs"}, {"platform", High, "runs programs"}, {"builtins", Medium, "builtin not on the allowlist"},
	{"picklescan", Critical, "tampers with a scanner"}, {"fickling", Critical, "tampers with a scanner"},
	{"modelscan", Critical, "tampers with a scanner"}, {"ttsguard", Critical, "tampers with a scanner"},
	// Files and sockets: critical whatever they are reached through (issue 16).
	{"socket", Critical, "opens sockets"}, {"_socket", Critical, "opens sockets"}, {"ssl", Critical, "opens sockets"},
	{"http", Critical, "network access"}, {"urllib", Critical, "network access"}, {"urllib2", Critical, "network access"},
	{"requests", Critical, "network access"}, {"httplib", Critical, "network access"}, {"ftplib", Critical, "network access"},
	{"smtplib", Critical, "network access"}, {"telnetlib", Critical, "network access"}, {"xmlrpc", Critical, "network access"},
	{"webbrowser", Critical, "opens URLs and runs a browser"}, {"shutil", Critical, "reads and writes files"},
	{"io", High, "file access"}, {"_io", High, "file access"}, {"io.open", Critical, "reads and writes files"},
	{"io.FileIO", Critical, "reads and writes files"}, {"io.open_code", Critical, "reads files"},
	{"_io.open", Critical, "reads and writes files"}, {"_io.FileIO", Critical, "reads and writes files"},
	{"codecs.open", Critical, "reads and writes files"}, {"pathlib", Critical, "reads and writes files"},
	{"tempfile", Critical, "writes files"}, {"glob", Critical, "reads the file system"}, {"zipfile", Critical, "reads and writes files"},
	{"tarfile", Critical, "reads and writes files"}, {"fileinput", Critical, "reads files"}, {"linecache", Critical, "reads files"},
	{"mmap", Critical, "memory-maps files"}, {"sqlite3", Critical, "reads and writes files"}, {"logging", Critical, "file and network handlers"},
	{"fsspec", Critical, "opens files and URLs"}, {"huggingface_hub", Critical, "downloads files"},
	{"trainer.io", Critical, "loads checkpoints through fsspec"},
	// coqui classes that read files when they are made, and its name importers.
	{"TTS.utils.audio", Critical, "AudioProcessor loads a stats file with np.load(allow_pickle=True)"},
	{"TTS.tts.utils.speakers", Critical, "loads speaker files and encoder checkpoints"},
	{"TTS.tts.utils.languages", Critical, "loads language files"}, {"TTS.tts.utils.managers", Critical, "loads files through fsspec"},
	{"TTS.utils.manage", Critical, "downloads models"}, {"TTS.utils.synthesizer", Critical, "loads checkpoints"},
	{"TTS.api", Critical, "downloads and loads models"},
	{"TTS.utils.generic_utils", Critical, "imports modules by name"},
}

// effectNames are names that read or write files, open connections, run code
// or import by a dotted name in any module that has them (storage.from_file,
// ndarray.tofile, Coqpit.load_json, hydra's instantiate, import_string ...):
// a global whose last part is one of them is critical wherever it lives.
var effectNames = map[string]string{}

func init() {
	for why, names := range map[string]string{
		"reads or writes files": `open from_file fromfile tofile memmap open_memmap load load_file load_checkpoint load_config
			load_json load_yaml load_fsspec load_model save save_file savez savez_compressed savetxt dump loadtxt genfromtxt
			read_text read_bytes write_text write_bytes unlink remove rmtree rename replace_file copyfile`,
		"downloads or opens connections": `urlopen urlretrieve download download_url hf_hub_download snapshot_download
			from_pretrained load_state_dict_from_url create_connection`,
		"runs code": `system popen spawn exec eval run_path run_module`,
		"imports by a dotted name": `import_module import_string import_class import_object locate get_class get_method
			instantiate resolve_name find_module load_class load_object setup_model setup_generator`,
	} {
		for _, n := range strings.Fields(names) {
			effectNames[n] = why
		}
	}
}

// Grade says how dangerous a global that is not allowed is, and why.
// Dunder parts and names that are not valid UTF-8 or not ASCII identifiers are
// critical: they are how scanners are bypassed.
func Grade(module, name string) (Severity, string) {
	full := module + "." + name
	if hasDunder(name) || hasDunder(module) {
		return Critical, "dunder attribute: reaches interpreter internals"
	}
	if !utf8.ValidString(full) {
		return Critical, "name is not valid UTF-8"
	}
	for _, r := range full {
		if r >= 0x80 {
			return Critical, "non-ASCII name: may alias another module"
		}
	}
	sev, why := gradeDotted(full)
	// A dotted name is resolved part by part: "torch._utils.os.system" is
	// os.system reached through modules torch imports. Grade every suffix.
	if strings.Contains(name, ".") {
		parts := strings.Split(full, ".")
		for i := 1; i < len(parts)-1; i++ {
			if s, w := gradeDotted(strings.Join(parts[i:], ".")); s > sev {
				sev, why = s, w+" (reached through "+strings.Join(parts[:i], ".")+")"
			}
		}
		if sev < High {
			return High, "dotted name resolved through another module"
		}
	}
	return sev, why
}

// gradeDotted finds the most specific denylist entry for a dotted path.
func gradeDotted(full string) (Severity, string) {
	best := -1
	for i, d := range denylist {
		if full == d.prefix || strings.HasPrefix(full, d.prefix+".") {
			if best < 0 || len(d.prefix) > len(denylist[best].prefix) {
				best = i
			}
		}
	}
	sev, why := Medium, "not on the allowlist"
	if best >= 0 {
		sev, why = denylist[best].sev, denylist[best].why
	}
	if w, ok := effectNames[full[strings.LastIndexByte(full, '.')+1:]]; ok && sev < Critical {
		sev, why = Critical, w+" (by its name, in any module)"
	}
	return sev, why
}
