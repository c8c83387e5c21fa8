"""Writes the two checkpoints of scripts/bench-diff.sh with torch.save.

    python gen.py DIR [GIB]

old.pth: a coqui-style checkpoint ({"model": state dict}) of GIB GiB (default
2) of float32 weights: 32 MiB tensors [2048, 4096] and a few small ones.
new.pth: every weight changed (old + 1e-3 * noise, the worst case for diff:
nothing is bit-identical). expected.json: torch's relative L2 change of the
first and the last weight, which the script checks diff's output against.
"""

import collections
import json
import os
import sys

import torch


def main():
    out = sys.argv[1]
    gib = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    n = int(gib * 32)  # 32 MiB tensors
    g = torch.Generator().manual_seed(11)
    old, new = collections.OrderedDict(), collections.OrderedDict()
    for i in range(n):
        t = torch.randn(2048, 4096, generator=g)
        old[f"layers.{i // 8}.block.{i % 8}.weight"] = t
        new[f"layers.{i // 8}.block.{i % 8}.weight"] = t + 1e-3 * torch.randn(2048, 4096, generator=g)
    for i in range(16):
        t = torch.randn(512, generator=g)
        old[f"norms.{i}.bias"] = t
        new[f"norms.{i}.bias"] = t * 1.01
    names = list(old)
    expected = {}
    for k in (names[0], names[-1]):
        a, b = old[k].double(), new[k].double()
        expected[k] = (torch.linalg.vector_norm(b - a) / torch.linalg.vector_norm(a)).item()
    torch.save({"model": old, "step": 1}, os.path.join(out, "old.pth"))
    torch.save({"model": new, "step": 2}, os.path.join(out, "new.pth"))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
