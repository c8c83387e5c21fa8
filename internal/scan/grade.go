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
	{"builtins.breakpoint", Critical, "starts a debugger"}, {"builtins.open", High, "opens files"},
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
	{"socket", High, "network access"}, {"_socket", High, "network access"}, {"ssl", High, "network access"},
	{"http", High, "network access"}, {"urllib", High, "network access"}, {"urllib2", High, "network access"},
	{"requests", High, "network access"}, {"httplib", High, "network access"}, {"ftplib", High, "network access"},
	{"smtplib", High, "network access"}, {"telnetlib", High, "network access"}, {"xmlrpc", High, "network access"},
	{"webbrowser", High, "opens URLs and runs a browser"}, {"shutil", High, "file system access"},
	{"io", High, "file access"}, {"_io", High, "file access"}, {"pathlib", High, "file system access"},
	{"tempfile", High, "file system access"}, {"glob", High, "file system access"}, {"zipfile", High, "file system access"},
	{"tarfile", High, "file system access"}, {"fileinput", High, "file access"}, {"linecache", High, "file access"},
	{"mmap", High, "memory-maps files"}, {"sqlite3", High, "file access"}, {"logging", High, "file and network handlers"},
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
	if best >= 0 {
		return denylist[best].sev, denylist[best].why
	}
	return Medium, "not on the allowlist"
}
