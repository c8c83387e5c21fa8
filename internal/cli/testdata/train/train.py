"""A small training script for the train tests (standard library only).

train.py CONFIG [--read PATH]: reads every file of the config's first
dataset and, when the config has restore_path, that checkpoint; writes
model.safetensors (one uint8 tensor: the SHA-256 of what it read) and
config.json into the config's output_path. --read PATH reads PATH too
(a file that was not declared: the sandbox must refuse it).
"""
import hashlib
import json
import os
import struct
import sys

cfg = json.load(open(sys.argv[1]))
h = hashlib.sha256()
ds = cfg["datasets"][0]["path"]
for root, _, files in sorted(os.walk(ds)):
    for f in sorted(files):
        with open(os.path.join(root, f), "rb") as fh:
            h.update(fh.read())
if cfg.get("restore_path"):
    with open(cfg["restore_path"], "rb") as fh:
        h.update(fh.read())
if len(sys.argv) > 3 and sys.argv[2] == "--read":
    with open(sys.argv[3], "rb") as fh:
        h.update(fh.read())
out = cfg["output_path"]
os.makedirs(out, exist_ok=True)
data = h.digest()
hdr = json.dumps({"weight": {"dtype": "U8", "shape": [32], "data_offsets": [0, 32]}}).encode()
with open(os.path.join(out, "model.safetensors"), "wb") as fh:
    fh.write(struct.pack("<Q", len(hdr)) + hdr + data)
with open(os.path.join(out, "config.json"), "w") as fh:
    json.dump({"model": "toy", "trained_on": h.hexdigest()}, fh)
print("trained", h.hexdigest())
