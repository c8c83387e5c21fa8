#!/usr/bin/env python3
"""Write a real-format PyTorch zip checkpoint with one big float32 tensor, without torch.

    gen_big_checkpoint.py OUT [--numel N] [--shape R,C]

Layout (as torch.save of {"weight": tensor} writes it, the same members as the
corpus' benign/model_state_dict.pth): archive/data.pkl, archive/data/0,
archive/version. ZIP_STORED, data records 64-byte aligned through a padding
extra field the way torch's writer aligns them; allowZip64 (Python's zipfile
adds a ZIP64 extra for members of 2 GiB and more).

data.pkl is produced by Python's own pickle (protocol 2) from stand-in objects
whose __module__/__qualname__ are torch's, so the opcodes are the ones torch.save
emits: GLOBAL collections.OrderedDict, GLOBAL torch._utils._rebuild_tensor_v2,
BINPERSID of ('storage', torch.FloatStorage, '0', 'cpu', numel), plus the
_metadata attribute set by BUILD.
"""
import argparse
import collections
import io
import os
import pickle
import pickletools
import struct
import sys
import types
import zipfile

CHUNK = 64 << 20


_FAKE = []


def _fake_torch():
    if _FAKE:
        return _FAKE[0]
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*a):  # never called
        raise RuntimeError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    _FAKE.append((torch, utils))
    return torch, utils


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce_ex__(self, proto):
        _, utils = _fake_torch()
        strides, acc = [], 1
        for d in reversed(self.shape):
            strides.insert(0, acc)
            acc *= d
        return (utils._rebuild_tensor_v2,
                (self.storage, 0, tuple(self.shape), tuple(strides), False, collections.OrderedDict()))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            torch, _ = _fake_torch()
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def data_pkl(numel, shape):
    sd = collections.OrderedDict()
    sd["weight"] = _Tensor(_Storage("0", numel), shape)
    # torch's state dicts carry _metadata as an attribute (BUILD with a dict state).
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(sd)
    return buf.getvalue()


def _aligned_info(zf, fp, name, size):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_STORED
    zi.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT
    off = fp.tell()
    base = off + 30 + len(name.encode()) + 4 + (20 if zip64 else 0)  # 4: padding extra's own header
    pad = (-base) % 64
    zi.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" block, as torch's writer uses
    return zi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--numel", type=int, default=1 << 29)
    ap.add_argument("--shape", default="16384,32768")
    ap.add_argument("--show-pickle", action="store_true")
    a = ap.parse_args()
    shape = [int(x) for x in a.shape.split(",")]
    n = 1
    for d in shape:
        n *= d
    if n != a.numel:
        sys.exit(f"shape {shape} has {n} elements, not --numel {a.numel}")
    pkl = data_pkl(a.numel, shape)
    if a.show_pickle:
        pickletools.dis(pkl)
    nbytes = a.numel * 4
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as fp, zipfile.ZipFile(fp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, data in (("archive/data.pkl", pkl), ("archive/data/0", None), ("archive/version", b"3\n")):
            size = len(data) if data is not None else nbytes
            zi = _aligned_info(zf, fp, name, size)
            with zf.open(zi, "w") as w:
                if data is not None:
                    w.write(data)
                else:
                    # Non-zero float32 content (0.5 everywhere), written in chunks.
                    chunk = struct.pack("<f", 0.5) * (CHUNK // 4)
                    left = nbytes
                    while left:
                        k = min(left, CHUNK)
                        w.write(chunk[:k])
                        left -= k
    os.replace(tmp, a.out)
    with zipfile.ZipFile(a.out) as zf:
        for zi in zf.infolist():
            print(f"{zi.filename}\t{zi.file_size}\theader@{zi.header_offset}", file=sys.stderr)


if __name__ == "__main__":
    main()
