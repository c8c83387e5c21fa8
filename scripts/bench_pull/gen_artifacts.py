#!/usr/bin/env python3
"""Make the artifacts that scripts/bench-pull.sh serves (once; reused while valid).

    gen_artifacts.py WWW_DIR [TOTAL_BYTES]

WWW_DIR/model.safetensors  a valid safetensors file of exactly TOTAL_BYTES (default 2 GiB):
                           8-byte little-endian header length, the JSON header
                           {"w":{"dtype":"U8","shape":[N],"data_offsets":[0,N]}} padded
                           with spaces to a multiple of 8, then N random bytes.
WWW_DIR/bench-model.zip    ZIP_STORED (zip64 where needed) with one top folder
                           bench-model/ holding config.json and model.safetensors.
WWW_DIR/.stamp             what was made; a file whose size or stamp differs is remade.
"""
import json
import os
import struct
import sys
import zipfile

CHUNK = 16 << 20
STAMP_VERSION = "bench-pull-artifacts v1"
CONFIG = {"model": "bench_pull", "run_name": "bench-pull", "audio": {"sample_rate": 22050}}


def safetensors_header(total):
    n = total
    while True:
        hdr = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}},
                         separators=(",", ":")).encode()
        hdr += b" " * (-len(hdr) % 8)
        want = total - 8 - len(hdr)
        if want == n:
            return struct.pack("<Q", len(hdr)) + hdr, n
        n = want


def make_safetensors(path, total):
    head, n = safetensors_header(total)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head)
        left = n
        while left:
            k = min(CHUNK, left)
            f.write(os.urandom(k))
            left -= k
    os.replace(tmp, path)


def make_zip(path, big):
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr(zipfile.ZipInfo("bench-model/"), b"")
        z.writestr("bench-model/config.json", json.dumps(CONFIG, indent=2) + "\n")
        z.write(big, "bench-model/model.safetensors")
    os.replace(tmp, path)


def main():
    www = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 31
    os.makedirs(www, exist_ok=True)
    big = os.path.join(www, "model.safetensors")
    zp = os.path.join(www, "bench-model.zip")
    stamp_path = os.path.join(www, ".stamp")
    want = f"{STAMP_VERSION} total={total}\n"
    try:
        with open(stamp_path) as f:
            stamp = f.read()
    except OSError:
        stamp = ""
    ok_big = stamp == want and os.path.isfile(big) and os.path.getsize(big) == total
    if not ok_big:
        if os.path.exists(stamp_path):
            os.remove(stamp_path)
        print(f"making {big} ({total} bytes)", file=sys.stderr)
        make_safetensors(big, total)
    if not ok_big or not (os.path.isfile(zp) and os.path.getsize(zp) > total):
        print(f"making {zp}", file=sys.stderr)
        make_zip(zp, big)
    with open(stamp_path, "w") as f:
        f.write(want)


if __name__ == "__main__":
    main()
