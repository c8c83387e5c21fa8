#!/opt/e2e-venv/bin/python
"""Regression files for issue 16, each seen to execute (or, for the benign
ones, to load quietly) under the real loaders.

Run with the venv that has torch 2.8, numpy and coqui-tts 0.28:

    /opt/e2e-venv/bin/python internal/scan/testdata/gen_issue16.py [--force]

It writes issue16/ next to this script:

    issue16/CASE/...          the files of each case (a model folder, or one file)
    issue16/manifest.json     per case: the class, what scan must say, and what
                              every loader call did with the main file
    fsspec_protocols.txt      fsspec.available_protocols() of the installed fsspec
    fsspec_cases.json         strings and how fsspec's own _un_chain reads them
    zip_readers.json          how far before the end miniz (torch.load) and
                              zipfile still find an end record

How a case is shown to run: the case folder is copied into a fresh temporary
folder, and a forked child of this process (which imported torch, numpy and
TTS once) changes into it, points HOME, TTS_HOME and XDG_DATA_HOME into it and
makes one loader call. A payload writes the file MARKER into the working
folder (os.system("touch ...") or builtins.open(..., "w")); the child reports
whether MARKER exists after the call, what the call returned or raised, and
every protocol fsspec made a filesystem for (fsspec.core.filesystem and
get_filesystem_class are wrapped to record it). A malicious case is kept only
when at least one loader call executed it ("executed") or, for configs, made
fsspec open a non-local protocol or read bytes from outside the case folder
("url-opened"); a benign case only when every call that accepts it returned
without any of that. The generator fails otherwise, so the manifest records
what was seen, never what was meant.

The four classes (issue 16):
  trailing-after-p0  a protocol-0 pickle followed by other bytes (text, NUL,
                     nothing at all: truncated before STOP)
  zip-multi-eocd     zips whose end record miniz (torch.load) or zipfile
                     (np.load) chooses differently from a "last record whose
                     comment reaches the end" reader
  fsspec-url         config path fields fsspec opens as URLs: data:, local:,
                     a bare protocol name (load_fsspec prefixes filecache::)
  defaultdict        a real checkpoint holding defaultdict(list) (benign), and
                     one whose factory is a callable that runs code (flagged)
"""

import argparse
import base64
import collections
import io
import json
import os
import pickle
import shutil
import struct
import sys
import tempfile
import traceback
import zipfile

import fsspec
import fsspec.core
import numpy as np
import torch
import trainer.io
from TTS.config import load_config
from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.utils.managers import load_file
from TTS.tts.utils.speakers import SpeakerManager
from TTS.utils.audio import AudioProcessor

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = "ttsguard-marker"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------- payloads

def s0(s):
    return b"S" + repr(s).encode() + b"\n"


def p0_system(cmd=f"touch {MARKER}"):
    """Protocol 0: os.system(cmd) (posix spelling, as pickle writes it on Linux)."""
    return b"cposix\nsystem\n(" + s0(cmd) + b"tR."


def p0_open_write():
    """Protocol 0: builtins.open(MARKER, "w"): writes a file without a shell."""
    return b"c__builtin__\nopen\n(" + s0(MARKER) + s0("w") + b"tR."


# ---------------------------------------------------------------- zips

def zip_members(members, prefix=b"", comment=b""):
    """A stored zip of members [(name, bytes)] written after prefix, with
    offsets that count the prefix (so the archive is valid at its place)."""
    buf = io.BytesIO()
    buf.write(prefix)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:  # "w" after the prefix: offsets count it
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, FIXED_DATE), data)
        z.comment = comment
    return buf.getvalue()


def torch_zip(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


def torch_zip_entries(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def set_comment_len(data, eocd_at, n):
    return data[:eocd_at + 20] + struct.pack("<H", n) + data[eocd_at + 22:]


def npy_object(obj_pickle):
    """An .npy header of an object array whose body is the given pickle."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header = header.ljust(128 - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + obj_pickle


def npz_bytes(arrays):
    b = io.BytesIO()
    np.savez(b, **arrays)
    return b.getvalue()


def cd_of(data):
    """(central directory offset, size, count, eocd offset) of a zip written alone."""
    e = data.rfind(b"PK\x05\x06")
    count, size, off = struct.unpack("<HII", data[e + 10:e + 20])
    return off, size, count, e


def zipfile_only(good, bad_members):
    """good + a second archive that only zipfile reads: the final end record
    keeps good's directory offset, size and count, so miniz (absolute offsets)
    reads good's directory; zipfile puts the directory where the end record
    sits minus its size ("concat"), which is where the second directory is,
    padded to good's directory size with the last record's comment."""
    cd_off, cd_size, count, _ = cd_of(good)
    body = b""
    locals_ = []
    for name, data in bad_members:
        nb = name.encode()
        locals_.append((nb, data, len(good) + len(body)))
        body += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21,
                            zipfile.crc32(data), len(data), len(data), len(nb), 0) + nb + data
    concat = len(good) + len(body) - cd_off  # the end record will sit at len(good)+len(body)+cd_size
    records = []
    for nb, data, off in locals_:
        records.append([nb, data, off - concat, 0])
    used = sum(46 + len(nb) for nb, _, _, _ in records)
    if used > cd_size:
        raise SystemExit("zipfile_only: second directory longer than the first")
    records[-1][3] = cd_size - used
    central = b""
    for nb, data, off, clen in records:
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, zipfile.crc32(data), len(data), len(data),
                               len(nb), 0, clen, 0, 0, 0, off) + nb + b" " * clen
    eocd = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_off, 0)
    return good + body + central + eocd


# ---------------------------------------------------------------- configs

def vits_config(**fields):
    c = VitsConfig()
    c.audio.stats_path = None
    for k, v in fields.items():
        if "." in k:
            a, b = k.split(".")
            setattr(getattr(c, a), b, v)
        else:
            setattr(c, k, v)
    path = tempfile.mktemp(suffix=".json")
    c.save_json(path)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


# ---------------------------------------------------------------- loaders

def _spy_fsspec(log):
    orig_fs, orig_cls = fsspec.core.filesystem, fsspec.core.get_filesystem_class

    def filesystem(protocol, **kw):
        log.append(protocol)
        return orig_fs(protocol, **kw)

    def get_cls(protocol):
        log.append(protocol)
        return orig_cls(protocol)

    fsspec.core.filesystem, fsspec.core.get_filesystem_class = filesystem, get_cls


def _summary(v):
    if isinstance(v, dict):
        return "dict(" + ", ".join(sorted(map(str, v.keys()))[:6]) + ")"
    return type(v).__name__


LOADERS = {
    "torch.load(weights_only=False)": lambda f: torch.load(f, weights_only=False),
    "torch.load(weights_only=True)": lambda f: torch.load(f, weights_only=True),
    "numpy.load(allow_pickle=True)": lambda f: np.load(f, allow_pickle=True),
    "numpy.load(allow_pickle=True)[every member]": lambda f: {k: np.load(f, allow_pickle=True)[k] for k in np.load(f, allow_pickle=True).files},
    "TTS AudioProcessor.load_stats": lambda f: AudioProcessor.load_stats(None, f),
    "TTS load_config + AudioProcessor(config.audio)": lambda f: AudioProcessor(load_config(f).audio),
    "TTS load_config + SpeakerManager.init_from_config": lambda f: SpeakerManager.init_from_config(load_config(f)),
    "TTS load_config + trainer.io.load_fsspec(model_args.speaker_encoder_model_path)":
        lambda f: trainer.io.load_fsspec(load_config(f).model_args.speaker_encoder_model_path, map_location="cpu"),
    "torch.load(weights_only=False) + missing-key lookup":
        lambda f: torch.load(f, weights_only=False)["d"]["missing"],
}


def run_loader(case_dir, main, loader):
    """Load main (relative to the copied case folder) in a forked child."""
    root = tempfile.mkdtemp(prefix="ttsguard-issue16-")
    work = os.path.join(root, "case")
    shutil.copytree(case_dir, work)
    os.makedirs(os.path.join(root, "outside"), exist_ok=True)
    with open(os.path.join(root, "outside", "speakers.json"), "w") as f:
        json.dump({"ttsguard-outside-speaker": 0}, f)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        out = {"loader": loader}
        try:
            os.chdir(work)
            for v in ("HOME", "TTS_HOME", "XDG_DATA_HOME"):
                os.environ[v] = os.path.join(root, "home")
            log = []
            _spy_fsspec(log)
            try:
                v = LOADERS[loader](main)
                out["result"] = "ok: " + _summary(v)
                out["value"] = json.dumps(v, default=str)[:400] if isinstance(v, (dict, list, int, str)) else None
                if isinstance(v, SpeakerManager):
                    out["value"] = json.dumps(v.name_to_id)
            except BaseException as e:  # noqa: BLE001 - a loader may raise anything
                out["result"] = f"error: {type(e).__name__}: {str(e)[:200]}"
            out["executed"] = os.path.exists(os.path.join(work, MARKER))
            out["fsspec_protocols"] = sorted(set(log))
            cache = os.path.join(root, "home")
            out["cache_files"] = sum(len(fs) for _, _, fs in os.walk(cache)) if os.path.isdir(cache) else 0
        except BaseException:  # noqa: BLE001
            out["result"] = "error: " + traceback.format_exc()[-300:]
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    shutil.rmtree(root, ignore_errors=True)
    return json.loads(data)


# ---------------------------------------------------------------- cases

BIN = ["torch.load(weights_only=False)", "torch.load(weights_only=True)", "numpy.load(allow_pickle=True)"]


def cases():
    out = []

    def case(name, cls, must, files, main, loaders, why):
        out.append(dict(name=name, cls=cls, must=must, files=files, main=main, loaders=loaders, why=why))

    # 1. a protocol-0 pickle followed by other bytes
    p = p0_system()
    case("p0-tail-newline", "trailing-after-p0", "not-clean", {"model.pth": p + b"\n"}, "model.pth", BIN,
         "os.system pickle, then a newline")
    case("p0-tail-text", "trailing-after-p0", "not-clean", {"model.pth": p + b"trailing text, not a pickle\n"}, "model.pth", BIN,
         "os.system pickle, then a line of text")
    case("p0-tail-nul", "trailing-after-p0", "not-clean", {"model.pth": p + b"\0" * 16}, "model.pth", BIN,
         "os.system pickle, then NUL bytes (read as unknown binary before)")
    case("p0-open-write-tail", "trailing-after-p0", "not-clean", {"model.pth": p0_open_write() + b"\xef\xbb\xbfnot a pickle\n"},
         "model.pth", BIN, "builtins.open(MARKER, 'w') pickle, then text")
    case("p0-stats-npy", "trailing-after-p0", "not-clean", {"scale_stats.npy": p + b"\n# stats\n"}, "scale_stats.npy",
         BIN + ["TTS AudioProcessor.load_stats"], "a stats file coqui loads with np.load(allow_pickle=True)")
    case("p0-speakers-pth", "trailing-after-p0", "not-clean", {"speakers.pth": p + b"\nspeakers\n"}, "speakers.pth", BIN,
         "a speaker file coqui loads with torch.load")
    case("p0-no-stop", "trailing-after-p0", "not-clean", {"model.pth": p[:-1] + b"\nthe pickle never stops\n"}, "model.pth", BIN,
         "the call runs, then the stream fails (no STOP): what ran before the error counts")
    stats_cfg = vits_config(**{"audio.stats_path": "scale_stats.npy"})
    case("coqui-folder-stats", "trailing-after-p0", "not-clean",
         {"config.json": stats_cfg, "scale_stats.npy": p + b"\n"}, "config.json",
         ["TTS load_config + AudioProcessor(config.audio)"], "a coqui model folder whose stats file is a text pickle")

    # 2. zips with more than one end record
    good = torch_zip({"w": torch.zeros(2)})
    bad_entries = [(n, p0_system() if n.endswith("/data.pkl") else d) for n, d in torch_zip_entries(good)]
    bad = zip_members(bad_entries, prefix=good)[len(good):]
    g_eocd = good.rfind(b"PK\x05\x06")
    # good's end record claims a comment that covers the whole second archive;
    # the second archive's end record claims a comment that is not there.
    data = set_comment_len(good, g_eocd, len(bad)) + bad
    b_eocd = data.rfind(b"PK\x05\x06")
    data = set_comment_len(data, b_eocd, 1000)
    case("zip-commentlen-lies", "zip-multi-eocd", "not-clean", {"model.pth": data}, "model.pth", BIN,
         "good archive whose comment length covers a second (malicious) archive; miniz takes the last record")
    data = set_comment_len(good, g_eocd, len(bad) + 7) + bad + b"PK\x05\x06\0\0\0"
    case("zip-trailing-partial-eocd", "zip-multi-eocd", "not-clean", {"model.pth": data}, "model.pth", BIN,
         "good + malicious archive + a cut end-record signature: miniz skips it, zipfile gives up, the old reader took good")
    npz_good = npz_bytes({"x": np.arange(3)})
    data = zipfile_only(npz_good, [("o.npy", npy_object(p0_system()))])
    case("zip-zipfile-only", "zip-multi-eocd", "not-clean", {"x.npz": data}, "x.npz",
         ["numpy.load(allow_pickle=True)[every member]", "torch.load(weights_only=False)"],
         "miniz reads the first archive's directory, zipfile the second (concat shift)")

    # 3. config strings fsspec opens as URLs
    for pad in range(1000):
        b = io.BytesIO()
        torch.save({"model": {}, "ttsguard-inline-checkpoint": 1, "pad": "x" * pad}, b, _use_new_zipfile_serialization=False)
        url = "data:application/octet-stream;base64," + base64.b64encode(b.getvalue()).decode()
        if max(map(len, url.split("/"))) < 200:  # coqui's Path(url).exists() raises on a name over 255 bytes
            break
    enc = "TTS load_config + trainer.io.load_fsspec(model_args.speaker_encoder_model_path)"
    case("config-encoder-data-url", "fsspec-url", "not-clean",
         {"config.json": vits_config(**{"model_args.speaker_encoder_model_path": url})}, "config.json", [enc],
         "a checkpoint carried inline in a data: URL")
    case("config-encoder-bare-protocol", "fsspec-url", "not-clean",
         {"config.json": vits_config(**{"model_args.speaker_encoder_model_path": "memory"})}, "config.json", [enc],
         "a bare protocol name: load_fsspec opens filecache::memory -> memory://")
    spk = "TTS load_config + SpeakerManager.init_from_config"
    # base64 with padding: b64decode stops at "=", so the URL can end in ".json" as load_file demands
    speakers = json.dumps({"ttsguard-inline-speaker": 0})
    while len(speakers) % 3 == 0:
        speakers += " "
    url = "data:application/json;base64," + base64.b64encode(speakers.encode()).decode() + ".json"
    case("config-speakers-data-url", "fsspec-url", "not-clean",
         {"config.json": vits_config(**{"model_args.use_speaker_embedding": True, "model_args.speakers_file": url})},
         "config.json", [spk], "speakers carried inline in a data: URL that ends in .json")
    case("config-speakers-local-escape", "fsspec-url", "not-clean",
         {"config.json": vits_config(**{"model_args.use_speaker_embedding": True,
                                        "model_args.speakers_file": "local:../outside/speakers.json"})},
         "config.json", [spk], "local: prefix (LocalFileSystem strips it) hiding a path out of the folder")
    ycfg = json.loads(vits_config(**{"model_args.use_speaker_embedding": True}))
    ycfg["model_args"]["speakers_file"] = "local:../outside/speakers.json"
    import yaml
    case("config-yaml-speakers-local-escape", "fsspec-url", "not-clean",
         {"config.yaml": yaml.safe_dump(ycfg, sort_keys=True).encode()}, "config.yaml", [spk],
         "the same in a YAML config")

    # 4. defaultdict
    dd = collections.defaultdict(list, {"a": [1, 2]})
    case("defaultdict-list-zip", "defaultdict", "clean", {"model.pth": torch_zip({"d": dd, "w": torch.zeros(2)})}, "model.pth",
         ["torch.load(weights_only=False)"], "torch.save of a defaultdict(list)")
    b = io.BytesIO()
    torch.save({"d": dd, "w": torch.zeros(2)}, b, _use_new_zipfile_serialization=False, pickle_protocol=2)
    case("defaultdict-list-legacy", "defaultdict", "clean", {"model.pth": b.getvalue()}, "model.pth",
         ["torch.load(weights_only=False)"], "legacy torch.save (protocol 2) of a defaultdict(list)")
    # a factory that runs code when a missing key is read: functools.partial(os.system, cmd)
    body = (b"\x80\x02}q\x00X\x01\x00\x00\x00dq\x01ccollections\ndefaultdict\nq\x02"
            b"cfunctools\npartial\nq\x03cposix\nsystem\nq\x04X" + struct.pack("<I", len(f"touch {MARKER}")) +
            f"touch {MARKER}".encode() + b"\x86q\x05Rq\x06\x85q\x07Rq\x08s.")
    case("defaultdict-partial-factory", "defaultdict", "not-clean",
         {"model.pth": zip_members([("archive/data.pkl", body), ("archive/version", b"3\n")])}, "model.pth",
         ["torch.load(weights_only=False) + missing-key lookup"], "defaultdict(functools.partial(os.system, cmd))")
    return out


def verify(c, d):
    res = {}
    for loader in c["loaders"]:
        res[loader] = run_loader(d, c["main"], loader)
    ran = [k for k, v in res.items() if v["executed"]]
    opened = [k for k, v in res.items() if any(p not in ("file", "local") for p in v["fsspec_protocols"])
              or "ttsguard-outside-speaker" in (v.get("value") or "") or "ttsguard-inline-speaker" in (v.get("value") or "")
              or "ttsguard-inline-checkpoint" in (v.get("result") + (v.get("value") or ""))]
    if c["must"] == "not-clean" and not (ran or opened):
        raise SystemExit(f"{c['name']}: no loader ran it: {json.dumps(res, indent=1)}")
    if c["must"] == "clean" and (ran or opened or not any(v["result"].startswith("ok") for v in res.values())):
        raise SystemExit(f"{c['name']}: not quietly accepted: {json.dumps(res, indent=1)}")
    return res, ran, opened


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    dest = os.path.join(HERE, "issue16")
    if os.path.exists(dest) and not a.force:
        raise SystemExit(f"{dest} exists (use --force)")
    tmp = tempfile.mkdtemp(prefix="issue16-", dir=HERE)
    try:
        build(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(HERE, "fsspec_protocols.txt"), "w") as f:
        f.write("\n".join(sorted(fsspec.available_protocols())) + "\n")
    write_fsspec_cases()
    write_zip_readers()


def build(tmp, dest):
    manifest = []
    for c in cases():
        d = os.path.join(tmp, c["name"])
        os.makedirs(d)
        for n, data in c["files"].items():
            with open(os.path.join(d, n), "wb") as f:
                f.write(data)
        res, ran, opened = verify(c, d)
        manifest.append({"case": c["name"], "class": c["cls"], "file": c["name"] + "/" + c["main"], "must": c["must"],
                         "why": c["why"], "executed_by": ran, "fsspec_url_by": opened,
                         "loaders": {k: {x: v.get(x) for x in ("result", "executed", "fsspec_protocols", "cache_files", "value")}
                                     for k, v in res.items()}})
        print(f"{c['must']:9} {c['name']:36} executed by {ran or '-'}; fsspec URL by {opened or '-'}")
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.rename(tmp, dest)


# ---------------------------------------------------------------- zip readers

def write_zip_readers():
    """Where each reader still finds an end record: a torch.save zip followed
    by zeros, so that its end record starts BACK bytes before the end."""
    z = torch_zip({"w": torch.zeros(2)})
    tail = len(z) - z.rfind(b"PK\x05\x06")
    out = []
    for back in (22, 4096, 65557, 65558, 69584, 69585, 70000):
        data = z + b"\0" * (back - tail)
        path = tempfile.mktemp(suffix=".pth")
        with open(path, "wb") as f:
            f.write(data)
        try:
            torch.load(path, weights_only=True)
            err = ""
        except Exception as e:  # noqa: BLE001
            err = str(e)
        try:
            zipfile.ZipFile(path).close()
            zf = True
        except zipfile.BadZipFile:
            zf = False
        os.remove(path)
        # torch 2.8 fails on some of these sizes for other reasons (a seek past
        # the trailing zeros); only "failed finding central directory" is miniz's
        out.append({"back": back, "miniz_found": "failed finding central directory" not in err, "zipfile_found": zf,
                    "torch_error": err[:120]})
        print(f"end record {back} bytes before the end: miniz found it: {out[-1]['miniz_found']}, zipfile: {zf}")
    with open(os.path.join(HERE, "zip_readers.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------- fsspec readings

FSSPEC_STRINGS = [
    # plain paths: local to both readings
    "speakers.pth", "sub/d_vectors.json", "/abs/speakers.pth", "~/x.pth", "C:\\models\\x.pth", "C://x.pth",
    "../up.json", "speakers", "model_file", "a:b", "http", "file", "local", "DATA:x", "Data:,x",
    # URLs
    "https://example.invalid/x.json", "HTTPS://example.invalid/x", " https://example.invalid/x.json",
    "s3://bucket/key", "file:///etc/hostname", "file:/etc/hostname", "local:/etc/hostname", "local:../x.json",
    "data:,{}", "data:application/json;base64,e30=", "memory://x.json", "dir::/etc/hostname",
    "simplecache::https://example.invalid/x", "blockcache::file:///x", "filecache::/x.pth", "zip://a::file:///b.zip",
    "x/../https://host/x", "memory", "github", "hf", "zip", "data", "async_wrapper", "simplecache",
    "tar::file", "foo::bar", "a::b::c",
]


def fsspec_reading(s):
    """Protocols of fsspec's own _un_chain for s, or the error it raises."""
    try:
        return [bit[1] for bit in fsspec.core._un_chain(s, {})]
    except Exception as e:  # noqa: BLE001
        return "error: " + type(e).__name__


def write_fsspec_cases():
    out = []
    for s in FSSPEC_STRINGS:
        direct, cached = fsspec_reading(s), fsspec_reading("filecache::" + s)
        # a URL: any protocol but the local file system, a chain, in either reading
        # (the cached reading's own first "filecache" does not count)
        def remote(r, skip=0):
            return isinstance(r, list) and (len(r) > 1 + skip or any(p not in ("file", "local") for p in r[skip:]))
        out.append({"s": s, "open": direct, "load_fsspec": cached,
                    "url": remote(direct) or remote(cached, 1)})
    with open(os.path.join(HERE, "fsspec_cases.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
