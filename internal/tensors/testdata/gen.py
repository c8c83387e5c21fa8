"""Writes the checkpoint fixtures of internal/tensors and internal/weightdiff.

Run with a Python that has torch 2.8 and safetensors (the e2e venv):

    /opt/e2e-venv/bin/python internal/tensors/testdata/gen.py

For each dtype (float32, bfloat16, float16) it saves an "old" and a "new"
coqui-style checkpoint ({"model": state dict, "optimizer": ..., ...}) with
torch.save, in the zip format and the legacy raw format
(_use_new_zipfile_serialization=False), and the two state dicts as
safetensors. The "new" one changes known tensors. expected-<dtype>.json lists
every tensor torch loads (its key path, dtype, shape, stride, storage offset)
and the relative L2 change torch computes, in float64, for every tensor the
two versions share with the same shape, and per group of names (first two
components): what the Go tests compare with.
"""

import collections
import json
import math
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ckpt")


def versions(dtype):
    g = torch.Generator().manual_seed(11)

    def rnd(*shape):
        return torch.randn(*shape, generator=g)

    old = collections.OrderedDict()
    old["text_encoder.emb.weight"] = rnd(12, 8)
    old["text_encoder.proj.weight"] = rnd(16, 8, 1)
    old["text_encoder.proj.bias"] = rnd(16)
    old["decoder.conv.weight"] = rnd(8, 8, 3)
    old["decoder.conv.bias"] = rnd(8)
    old["decoder.out.weight"] = rnd(4, 8)
    old["decoder.removed.weight"] = rnd(3)
    old["decoder.reshaped.weight"] = rnd(6, 4)
    old["decoder.zero.weight"] = torch.zeros(5)
    old["decoder.steps"] = torch.tensor([3, 1], dtype=torch.int64)

    new = collections.OrderedDict((k, v.clone()) for k, v in old.items())
    new["decoder.conv.weight"] = old["decoder.conv.weight"] + 0.01 * rnd(8, 8, 3)
    new["decoder.conv.bias"] = old["decoder.conv.bias"] * 1.5
    new["decoder.out.weight"] = rnd(4, 8)
    del new["decoder.removed.weight"]
    new["decoder.added.weight"] = rnd(2, 2)
    new["decoder.reshaped.weight"] = old["decoder.reshaped.weight"].reshape(4, 6).clone()
    new["decoder.zero.weight"] = torch.ones(5)
    new["decoder.steps"] = torch.tensor([4, 1], dtype=torch.int64)

    def cast(sd):
        return collections.OrderedDict(
            (k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()
        )

    old, new = cast(old), cast(new)
    base_old = rnd(4, 5).to(dtype)
    base_new = (base_old.float() + 0.1 * rnd(4, 5)).to(dtype)
    return old, new, base_old, base_new


def checkpoint(sd, base, step):
    # A trainer's checkpoint: the model's state dict, optimizer state, and
    # views of one storage (a row slice: storage offset; a transpose: strides).
    first = next(iter(sd.values()))
    return {
        "model": sd,
        "optimizer": {
            "state": {0: {"step": torch.tensor(float(step)), "exp_avg": torch.full_like(first, 0.5 * step)}},
            "param_groups": [{"lr": 0.001, "betas": (0.8, 0.99), "params": [0]}],
        },
        "views": {"rows": base[1:3], "transposed": base.t()},
        "step": step,
        "epoch": 2,
        "config": {"model": "vits", "hidden_channels": 8},
    }


def name(path, weight):
    return path[-1] if weight else "/".join(str(p) for p in path)


def walk(obj, path, out):
    if isinstance(obj, torch.Tensor):
        out.append((path, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            walk(v, path + [str(k)], out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            walk(v, path + [str(i)], out)


def listing(ck):
    out = []
    walk(ck, [], out)
    res = []
    for path, t in out:
        weight = len(path) == 2 and path[0] == "model"
        res.append({
            "name": name(path, weight), "key": path, "weight": weight, "dtype": str(t.dtype).removeprefix("torch."),
            "shape": list(t.shape), "stride": list(t.stride()), "storage_offset": t.storage_offset(),
            # the sum of the elements in float64 and their first value: what the Go reader must decode
            "sum": t.double().sum().item(), "first": t.flatten()[0].double().item() if t.numel() else None,
        })
    return res


def rel(a, b):
    a, b = a.double(), b.double()
    d, n = torch.linalg.vector_norm(b - a).item(), torch.linalg.vector_norm(a).item()
    if n == 0:
        return None if d > 0 else 0.0  # None: infinite
    return d / n


def main():
    os.makedirs(OUT, exist_ok=True)
    for dtype, tag in [(torch.float32, "fp32"), (torch.bfloat16, "bf16"), (torch.float16, "fp16")]:
        old, new, base_old, base_new = versions(dtype)
        cks = {"old": checkpoint(old, base_old, 100), "new": checkpoint(new, base_new, 200)}
        for which, ck in cks.items():
            torch.save(ck, os.path.join(OUT, f"{tag}-{which}-zip.pth"))
            torch.save(ck, os.path.join(OUT, f"{tag}-{which}-legacy.pth"), _use_new_zipfile_serialization=False)
            save_file(dict(ck["model"]), os.path.join(OUT, f"{tag}-{which}.safetensors"))
        lo, ln = listing(cks["old"]), listing(cks["new"])
        tensors_old = {e["name"]: t for e, (_, t) in zip(lo, _pairs(cks["old"]))}
        tensors_new = {e["name"]: t for e, (_, t) in zip(ln, _pairs(cks["new"]))}
        relative, groups = {}, {}
        for n, a in tensors_old.items():
            b = tensors_new.get(n)
            if b is None or a.shape != b.shape or not a.is_floating_point():
                continue
            relative[n] = rel(a, b)
            gname = ".".join(n.split(".")[:2]) if "/" not in n else "/".join(n.split("/")[:2])
            sd, so = groups.get(gname, (0.0, 0.0))
            a64, b64 = a.double(), b.double()
            groups[gname] = (sd + torch.sum((b64 - a64) ** 2).item(), so + torch.sum(a64 ** 2).item())
        group_rel = {k: (math.sqrt(d) / math.sqrt(o) if o > 0 else (None if d > 0 else 0.0)) for k, (d, o) in groups.items()}
        with open(os.path.join(OUT, f"expected-{tag}.json"), "w") as f:
            json.dump({"old": lo, "new": ln, "relative": relative, "groups": group_rel}, f, indent=1, sort_keys=True)
            f.write("\n")


def _pairs(ck):
    out = []
    walk(ck, [], out)
    return out


if __name__ == "__main__":
    main()
