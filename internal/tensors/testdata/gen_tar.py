"""Writes a legacy tar checkpoint (the format of torch.save before 0.4, which
torch 2.8 still loads but no longer writes) and what torch.load reads from it.

    /opt/e2e-venv/bin/python internal/tensors/testdata/gen_tar.py

The members follow torch/serialization.py's legacy_load: "storages" (a count;
per storage the pickle (key, location, storage_type), an 8-byte element count
and the bytes; then the list of storage views (target, root, offset, numel)),
"tensors" (a count; per tensor the pickle (key, storage_id, type), ndim as 4
bytes and 4 more, the sizes, the strides and the storage offset as 8-byte
integers) and "pickle", whose persistent ids are tensor keys. The file is
loaded with torch.load, and expected-tar.json lists its tensors as gen.py
lists the other fixtures (key paths, dtype, shape, stride, offset, sum).
"""

import io
import json
import os
import pickle
import struct
import sys
import tarfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import listing  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ckpt")


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Pid) else None


class Pid:
    def __init__(self, pid):
        self.pid = pid


def storage_record(key, type_name):
    # (key, "cpu", torch.<type_name>) with the type as a GLOBAL, protocol 2.
    k = key.encode()
    return (b"\x80\x02(X" + struct.pack("<I", len(k)) + k + b"X\x03\x00\x00\x00cpuctorch\n" +
            type_name.encode() + b"\nq\x00tq\x01.")


def main():
    import array
    f32 = array.array("f", [0.5 * i - 3 for i in range(12)]).tobytes()  # storage s1: 12 floats
    f64 = array.array("d", [1.25, -2.0, 3.5]).tobytes()  # storage s2: 3 doubles
    s = io.BytesIO()
    s.write(pickle.dumps(2, protocol=2))
    s.write(storage_record("s1", "FloatStorage") + struct.pack("<q", 12) + f32)
    s.write(storage_record("s2", "DoubleStorage") + struct.pack("<q", 3) + f64)
    s.write(pickle.dumps([("v1", "s1", 6, 6)], protocol=2))  # view: elements 6..11 of s1

    t = io.BytesIO()
    t.write(pickle.dumps(4, protocol=2))

    def tensor(key, storage, sizes, strides, offset):
        t.write(pickle.dumps((key, storage, "torch.FloatTensor"), protocol=2))
        t.write(struct.pack("<i", len(sizes)) + b"\0" * 4)
        t.write(struct.pack(f"<{len(sizes)}q", *sizes) + struct.pack(f"<{len(strides)}q", *strides) + struct.pack("<q", offset))

    tensor(1, "s1", [2, 3], [3, 1], 0)   # a.weight: the first 6 floats
    tensor(2, "v1", [3, 2], [1, 3], 0)   # a.t: the view, transposed
    tensor(3, "s2", [3], [1], 0)         # b: doubles
    tensor(4, "s1", [2], [1], 10)        # c: offset 10

    m = io.BytesIO()
    Pickler(m, protocol=2).dump({"model": {"a.weight": Pid("1"), "a.t": Pid("2"), "b": Pid("3")}, "extra": [Pid("4")], "step": 3})

    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [("sys_info", pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                                      "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)),
                           ("storages", s.getvalue()), ("tensors", t.getvalue()), ("pickle", m.getvalue())]:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            tar.addfile(ti, io.BytesIO(data))
    path = os.path.join(OUT, "legacy-tar.pth")
    with open(path, "wb") as f:
        f.write(b.getvalue())
    ck = torch.load(path, weights_only=False)
    with open(os.path.join(OUT, "expected-tar.json"), "w") as f:
        json.dump({"tensors": listing(ck)}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
