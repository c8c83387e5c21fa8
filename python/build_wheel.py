#!/usr/bin/env python3
"""Write ttsguard's platform wheel: the pure-Python package python/ttsguard with the static
ttsguard binary at ttsguard/bin/ttsguard (scripts/build-wheel.sh, `make wheel`, builds the
binary and calls this once per architecture).

It writes the wheel zip, its .dist-info (METADATA from python/pyproject.toml's [project],
WHEEL, entry_points.txt) and RECORD itself, following the binary distribution format
(packaging.python.org/specifications/binary-distribution-format), so no build backend is
fetched from PyPI. The output is reproducible: entries in a fixed order, every timestamp set to
SOURCE_DATE_EPOCH (default 1980-01-01), fixed modes (0755 for the binary, 0644 otherwise).

Tags (PEP 425, PEP 600, PEP 656): py3-none-manylinux_2_17_ARCH.manylinux2014_ARCH.musllinux_1_1_ARCH.
The binary is static (CGO_ENABLED=0) and needs no libc, so one wheel per architecture serves
glibc (manylinux) and musl (musllinux) systems alike; the Python code needs Python 3.9 or later.

    python3 python/build_wheel.py --binary BIN --arch x86_64|aarch64 [--out dist]

Prints the wheel's path. Python 3.9 or later (before 3.11, without tomllib, the small subset of
TOML that pyproject.toml uses is read by load_toml).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import sys
import ast
import time
import zipfile

try:
    import tomllib
except ImportError:  # Python before 3.11
    tomllib = None

HERE = os.path.dirname(os.path.abspath(__file__))
ARCHES = ("x86_64", "aarch64")


def platform_tag(arch: str) -> str:
    return f"manylinux_2_17_{arch}.manylinux2014_{arch}.musllinux_1_1_{arch}"


def metadata(project: dict, readme: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
    ]
    if project.get("keywords"):
        lines.append("Keywords: " + ",".join(project["keywords"]))
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Project-URL: {k}, {v}" for k, v in project.get("urls", {}).items()]
    if project.get("dependencies"):
        raise SystemExit("build_wheel: the package must have no runtime dependencies")
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def package_files() -> list[tuple[str, str]]:
    """(archive name, source path) of every file of python/ttsguard, sorted; caches and bin/ left out."""
    root = os.path.join(HERE, "ttsguard")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "bin"))
        for f in filenames:
            if f.endswith((".py", ".typed")):
                src = os.path.join(dirpath, f)
                out.append(("ttsguard/" + os.path.relpath(src, root).replace(os.sep, "/"), src))
    return sorted(out)


def load_toml(text: str) -> dict:
    """The subset of TOML pyproject.toml uses: [tables], key = "string" | ["list", ...] (lists may
    span lines; no comments inside them)."""
    out: dict = {}
    table = out
    lines = iter(enumerate(text.splitlines(), 1))
    for n, line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            table = out
            for part in line[1:-1].split("."):
                table = table.setdefault(part.strip(), {})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise SystemExit(f"build_wheel: pyproject.toml line {n}: not key = value")
        value = value.strip()
        while value.startswith("[") and not value.endswith("]"):
            value += next(lines, (0, "]"))[1].strip()
        try:
            table[key.strip().strip('"')] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise SystemExit(f"build_wheel: pyproject.toml line {n}: a value this reader does not know") from None
    return out


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build(binary: str, arch: str, out: str) -> str:
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        raw = f.read()
    py = tomllib.loads(raw.decode()) if tomllib else load_toml(raw.decode())
    if tomllib and load_toml(raw.decode()) != py:
        raise SystemExit("build_wheel: load_toml reads pyproject.toml differently from tomllib; keep to its subset")
    project = py["project"]
    name, version = project["name"], project["version"]
    init = open(os.path.join(HERE, "ttsguard", "__init__.py"), encoding="utf-8").read()
    m = re.search(r'^__version__ = "([^"]+)"$', init, re.M)
    if not m or m.group(1) != version:
        raise SystemExit(f"build_wheel: ttsguard/__init__.py __version__ {m and m.group(1)!r} differs from pyproject.toml's {version!r}")
    with open(binary, "rb") as f:
        exe = f.read()
    if not exe.startswith(b"\x7fELF"):
        raise SystemExit(f"build_wheel: {binary} is not an ELF executable")
    machine = {b"\x3e\x00": "x86_64", b"\xb7\x00": "aarch64"}.get(exe[18:20])
    if machine != arch:
        raise SystemExit(f"build_wheel: {binary} is built for {machine or 'another machine'}, not {arch}")
    readme = open(os.path.join(HERE, project["readme"]), encoding="utf-8").read()
    tag = f"py3-none-{platform_tag(arch)}"
    dist_info = f"{name}-{version}.dist-info"
    wheel_meta = ["Wheel-Version: 1.0", "Generator: ttsguard python/build_wheel.py", "Root-Is-Purelib: false"]
    wheel_meta += [f"Tag: py3-none-{p}" for p in platform_tag(arch).split(".")]
    scripts = project.get("scripts", {})
    entries: list[tuple[str, bytes, int]] = []
    for arc, src in package_files():
        with open(src, "rb") as f:
            entries.append((arc, f.read(), 0o644))
    entries.append(("ttsguard/bin/ttsguard", exe, 0o755))
    entries.append((f"{dist_info}/METADATA", metadata(project, readme).encode(), 0o644))
    entries.append((f"{dist_info}/WHEEL", ("\n".join(wheel_meta) + "\n").encode(), 0o644))
    if scripts:
        ep = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(scripts.items()))
        entries.append((f"{dist_info}/entry_points.txt", ep.encode(), 0o644))
    record = "".join(f"{arc},{record_hash(data)},{len(data)}\n" for arc, data, _ in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode(), 0o644))

    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)
    date = time.gmtime(epoch)[:6]
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}-{version}-{tag}.whl")
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        for arc, data, mode in entries:
            info = zipfile.ZipInfo(arc, date_time=date)
            info.create_system = 3  # unix: external_attr holds the mode
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=9)
    os.replace(tmp, path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True, help="the static ttsguard binary for ARCH")
    ap.add_argument("--arch", required=True, choices=ARCHES)
    ap.add_argument("--out", default="dist")
    a = ap.parse_args()
    print(build(a.binary, a.arch, a.out))


if __name__ == "__main__":
    sys.exit(main())
