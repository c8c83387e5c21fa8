"""Loader worker: loads files with the real loaders in throwaway, unprivileged children.

Started by harness.py as root inside `unshare -n` (no network). It imports torch, numpy and
coqui once, then for every request (one JSON line on stdin) forks one child per loader. The child
drops to an unprivileged uid/gid, gets resource limits, a private TMPDIR and the case folder as its
working folder, installs a sys.addaudithook hook, runs the loader, and reports the events on a pipe.
The parent kills the child's process group when it runs past the timeout. One JSON line comes back
per request on stdout.

Request:  {"dir": CASE_DIR, "file": NAME, "loaders": [...], "timeout": S, "marker": PATH}
Response: {"results": [{"loader", "status": ok|error|timeout|crash, "error", "events": [[class, detail]...],
           "marker": bool}]}
"""

import json
import os
import resource
import select
import shutil
import signal
import sys
import time

UID = int(os.environ.get("DIFF_UID", "65534"))
GID = int(os.environ.get("DIFF_GID", "65534"))

# Imported before any hook: what the loaders import lazily on their benign paths is listed below.
import fsspec  # noqa: E402
import fsspec.implementations.local  # noqa: E402,F401
import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402,F401
import safetensors.numpy  # noqa: E402,F401
import tarfile, zipfile, pickle, tempfile, shutil, json as _json  # noqa: E402,F401,E401
from TTS.config import load_config  # noqa: E402
from TTS.utils.audio import AudioProcessor  # noqa: E402
from TTS.tts.utils.speakers import SpeakerManager  # noqa: E402
from TTS.tts.utils.languages import LanguageManager  # noqa: E402
import TTS.tts.configs  # noqa: E402,F401
import TTS.utils.radam  # noqa: E402,F401

torch.set_num_threads(1)
for _m in ["py7zr", "scipy.signal", "librosa", "librosa.filters", "fsspec.implementations.http", "fsspec.implementations.cached",
           "fsspec.implementations.memory", "fsspec.implementations.data", "fsspec.implementations.zip",
           "fsspec.implementations.tar", "fsspec.implementations.dirfs", "fsspec.implementations.reference",
           "fsspec.implementations.github", "fsspec.implementations.ftp", "fsspec.implementations.webhdfs",
           "fsspec.implementations.libarchive", "fsspec.implementations.sftp", "fsspec.implementations.git",
           "fsspec.implementations.dbfs", "fsspec.implementations.jupyter", "fsspec.implementations.smb"]:
    try:
        __import__(_m)
    except Exception:  # noqa: BLE001  (an optional backend that is not installed)
        pass

# Globals the loaders resolve on their benign paths (pickle.find_class events that are expected).
EXPECTED_GLOBALS = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"), ("collections", "Counter"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"), ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.nn.parameter", "Parameter"), ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"),
    ("torch.serialization", "_get_layout"), ("_codecs", "encode"), ("codecs", "encode"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"), ("builtins", "complex"),
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "int"), ("builtins", "float"),
    ("builtins", "slice"), ("builtins", "range"), ("builtins", "bool"), ("builtins", "str"), ("builtins", "bytes"),
    ("__builtin__", "set"), ("__builtin__", "dict"), ("__builtin__", "list"), ("copy_reg", "_reconstructor"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "ndarray"),
    ("numpy", "dtype"), ("numpy.dtypes", "Float64DType"), ("numpy.dtypes", "Float32DType"),
    ("numpy.dtypes", "Int64DType"), ("numpy.dtypes", "ObjectDType"),
}
for _n in ["Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
           "ComplexFloat", "ComplexDouble"]:
    EXPECTED_GLOBALS.add(("torch", _n + "Storage"))
for _n in ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]:
    EXPECTED_GLOBALS.add(("torch", _n))
EXPECTED_GLOBALS |= {("torch.storage", "UntypedStorage"), ("torch.storage", "TypedStorage"), ("torch", "UntypedStorage")}
# Imports the benign paths trigger lazily.
EXPECTED_IMPORT_PREFIXES = ("torch", "numpy", "TTS", "fsspec", "encodings", "safetensors", "coqpit", "trainer",
                            "_weakrefset", "tempfile", "zipfile", "tarfile", "collections", "copyreg", "yaml")

NET_EVENTS = ("socket.", "urllib.Request", "http.client.", "ftplib.", "smtplib.", "webbrowser.open", "imaplib.",
              "poplib.", "nntplib.", "telnetlib.")
EXEC_EVENTS = ("os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
               "pty.spawn", "ctypes.", "code.__new__", "function.__new__", "sys._getframe",
               "os.startfile", "cpython.run_", "sys.setprofile", "sys.settrace", "object.__setattr__")
FS_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
             "os.truncate", "os.utime", "shutil.", "os.listdir", "os.scandir", "glob.glob")


def child(req, loader, wfd, scratch):
    os.setpgid(0, 0)
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with open("/proc/self/statm") as fh:  # address space: what the worker mapped plus 4 GiB for the load
        vm = int(fh.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (vm + (4 << 30), vm + (4 << 30)))
    os.chdir(req["dir"])
    os.setgroups([])
    os.setgid(GID)
    os.setuid(UID)
    case_dir = os.path.realpath(req["dir"]) + os.sep
    allowed_read = tuple(os.path.realpath(p) + os.sep for p in set(sys.path + [sys.prefix, sys.base_prefix]) if p) + (
        case_dir, scratch + os.sep, "/proc/self/", "/proc/meminfo", "/sys/devices/system/cpu/", "/dev/null", "/dev/urandom",
        "/usr/lib/", "/usr/share/zoneinfo/", "/etc/localtime", "/usr/local/lib/")
    events = []
    seen = set()

    def add(cls, detail):
        k = (cls, detail[:200])
        if k not in seen and len(events) < 64:
            seen.add(k)
            events.append([cls, detail[:200]])

    def hook(event, args):
        try:
            if event == "pickle.find_class":
                if (args[0], args[1]) not in EXPECTED_GLOBALS:
                    add("global", f"{args[0]}.{args[1]}")
            elif event == "import":
                m = args[0]
                if not m.startswith(EXPECTED_IMPORT_PREFIXES):
                    add("import", m)
            elif event in ("exec", "compile"):
                fn = getattr(args[0], "co_filename", None) if event == "exec" else (args[1] if len(args) > 1 else None)
                fn = fn.decode(errors="replace") if isinstance(fn, bytes) else fn
                if not (isinstance(fn, str) and fn.startswith("/") and os.path.realpath(fn).startswith(allowed_read)):
                    add("dyncode", f"{event} {fn}")
            elif event == "open":
                path, mode = args[0], args[1] if len(args) > 1 else "r"
                if isinstance(path, int) or path is None:
                    return
                if isinstance(path, bytes):
                    path = path.decode(errors="replace")
                rp = os.path.realpath(os.path.join(os.getcwd(), str(path)))
                writing = isinstance(mode, str) and any(c in mode for c in "wax+")
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                writing = writing or bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
                if writing and not rp.startswith(scratch + os.sep):
                    add("write", rp)
                elif not rp.startswith(allowed_read) and rp != case_dir.rstrip(os.sep):
                    add("open-outside" if os.path.exists(rp) else "open-missing", rp)
            elif event.startswith(NET_EVENTS):
                add("net", f"{event} {args!r}"[:200])
            elif event.startswith(EXEC_EVENTS):
                if event == "sys._getframe" or event == "object.__setattr__":
                    return
                add("exec", f"{event} {args!r}"[:200])
            elif event.startswith(FS_EVENTS):
                p = args[0] if args else ""
                p = p.decode(errors="replace") if isinstance(p, bytes) else str(p)
                rp = os.path.realpath(os.path.join(os.getcwd(), p))
                if not rp.startswith(scratch + os.sep) and not rp.startswith(allowed_read):
                    add("fs", f"{event} {rp}")
            elif event == "fsspec.open":
                add("remote-open", args[0])
        except Exception as e:  # never let the hook hide an event
            add("hook-error", f"{event}: {e}")

    # fsspec: any protocol other than the local file system is an open outside the model
    orig_url_to_fs = fsspec.core.url_to_fs
    orig_open_files = fsspec.core.open_files

    def check_url(u):
        try:
            if isinstance(u, (list, tuple)):
                for x in u:
                    check_url(x)
                return
            u = str(u)
            fs, _ = orig_url_to_fs(u)
            protos = fs.protocol if isinstance(fs.protocol, (list, tuple)) else [fs.protocol]
            if not set(protos) & {"file", "local"} or "::" in u:
                sys.audit("fsspec.open", u)
        except Exception as e:
            sys.audit("fsspec.open", f"{u} (unresolved: {type(e).__name__})")

    def open_files(urlpath, *a, **k):
        check_url(urlpath)
        return orig_open_files(urlpath, *a, **k)

    fsspec.core.open_files = open_files
    sys.addaudithook(hook)
    status, err = "ok", ""
    try:
        run_loader(loader, req["file"])
    except BaseException as e:  # noqa: BLE001
        status, err = "error", f"{type(e).__name__}: {e}"[:300]
    out = json.dumps({"loader": loader, "status": status, "error": err, "events": events}).encode()
    os.write(wfd, out)
    os._exit(0)


TRAINING_ONLY = {"datasets", "output_path", "logger_uri", "phoneme_cache_path", "f0_cache_path", "energy_cache_path",
                 "attn_prior_cache_path", "data_path", "feature_path", "test_sentences_file", "restore_path",
                 "continue_path", "best_path"}


def path_fields(d, top=True):
    """Every string of a config whose key names a path or file (what a model's init opens), training-only keys left out."""
    if isinstance(d, dict):
        for k, v in d.items():
            if top and k in TRAINING_ONLY:
                continue
            if "remote" in k.lower() or "url" in k.lower():
                continue  # a download fallback (bark's REMOTE_MODEL_PATHS): fetched only when the local copy is missing
            if isinstance(v, str) and v and (k.endswith(("_path", "_file", "_checkpoint", "_dir")) or k in ("checkpoint", "path")):
                yield k, v
            else:
                yield from path_fields(v, False)
    elif isinstance(d, list):
        for v in d:
            yield from path_fields(v, False)


def run_loader(loader, f):
    if loader == "torch_full":
        torch.load(f, map_location="cpu", weights_only=False)
    elif loader == "torch_wo":
        torch.load(f, map_location="cpu", weights_only=True)
    elif loader == "numpy":
        r = np.load(f, allow_pickle=True)
        if hasattr(r, "files"):
            for k in r.files:
                r[k]
            r.close()
    elif loader == "coqui_stats":
        from TTS.config.shared_configs import BaseAudioConfig
        ap = AudioProcessor(BaseAudioConfig())
        ap.load_stats(f)
    elif loader == "coqui_speakers":
        SpeakerManager(speaker_id_file_path=f)
    elif loader == "coqui_dvectors":
        SpeakerManager(d_vectors_file_path=f)
    elif loader == "safetensors":
        import safetensors.numpy as stn
        stn.load_file(f)
    elif loader == "sevenzip":
        # a 7z-wrapped checkpoint as a user unpacks it (py7zr) and loads every member
        import py7zr
        dst = tempfile.mkdtemp()
        with py7zr.SevenZipFile(f) as z:
            z.extractall(path=dst)
        for root, _, names in os.walk(dst):
            for n in names:
                p = os.path.join(root, n)
                for fn in (lambda: torch.load(p, map_location="cpu", weights_only=False),
                           lambda: np.load(p, allow_pickle=True)):
                    try:
                        fn()
                    except Exception:  # noqa: BLE001
                        pass
    elif loader == "coqui_config":
        config = load_config(f)
        errs = []
        for step in (lambda: AudioProcessor(config.audio),
                     lambda: SpeakerManager.init_from_config(config),
                     lambda: LanguageManager.init_from_config(config)):
            try:
                step()
            except Exception as e:  # noqa: BLE001
                errs.append(f"{type(e).__name__}: {e}")
        # every path field a model's init would open (load_fsspec / fsspec.open)
        for k, v in path_fields(config.to_dict()):
            try:
                with fsspec.open(v, "rb") as fh:
                    fh.read(64)
            except Exception:  # noqa: BLE001
                pass
        if errs:  # a manager a model family does not use fails on its config: the config itself loaded
            print(f"coqui_config {f}: " + "; ".join(errs)[:300], file=sys.stderr)
    else:
        raise ValueError(f"unknown loader {loader}")


def run_one(req, loader):
    r, w = os.pipe()
    marker = req.get("marker")
    if marker and os.path.lexists(marker):
        os.unlink(marker)
    # The child's TMPDIR: made and removed here, since the child is killed (its process
    # group) and never cleans up after itself.
    scratch = tempfile.mkdtemp(prefix="diffscratch.")
    os.chown(scratch, UID, GID)
    try:
        return wait_child(req, loader, r, w, marker, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def wait_child(req, loader, r, w, marker, scratch):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            child(req, loader, w, scratch)
        finally:
            os._exit(1)
    os.close(w)
    deadline = time.monotonic() + req.get("timeout", 20)
    buf = b""
    status = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            status = "timeout"
            break
        rl, _, _ = select.select([r], [], [], left)
        if rl:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, st = os.waitpid(pid, 0)
    os.close(r)
    try:
        res = json.loads(buf) if buf and status is None else None
    except ValueError:
        res = None
    if res is None:
        res = {"loader": loader, "status": status or "crash", "error": f"wait status {st}", "events": []}
    res["marker"] = bool(marker and os.path.lexists(marker))
    if res["marker"]:
        res["events"].append(["exec", f"marker {marker} written"])
    return res


def main():
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for line in sys.stdin:
        req = json.loads(line)
        results = [run_one(req, ld) for ld in req["loaders"]]
        sys.stdout.write(json.dumps({"results": results}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
