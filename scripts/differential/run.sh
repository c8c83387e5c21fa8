#!/bin/sh
# Differential harness: generated and mutated checkpoints loaded by the real loaders (torch 2.8,
# numpy, coqui-tts 0.28) under an audit hook, compared with `ttsguard scan --json`. Outside CI.
#
#   scripts/differential/run.sh [--minutes N] [--out DIR] [--seed N] [--timeout S] [--keep]
#
# DIFF_VENV=/path/to/venv reuses a venv that has torch, numpy and coqui-tts; otherwise a throwaway
# venv is created under OUT/venv from PyPI (torch 2.8 CPU, numpy, coqui-tts 0.28).
# Run as root to load in a network namespace (unshare -n) as an unprivileged uid (DIFF_UID, 65534).
# See docs/scan.md, "Differential testing against the real loaders".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=""
minutes=10
pass=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    *) pass="$pass $1"; shift ;;
  esac
done
[ -n "$out" ] || out=${TMPDIR:-/tmp}/ttsguard-differential/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -n "${DIFF_VENV:-}" ]; then
  py=$DIFF_VENV/bin/python
else
  py=$out/venv/bin/python
  if [ ! -x "$py" ]; then
    python3 -m venv "$out/venv"
    "$py" -m pip install -q --upgrade pip
    "$py" -m pip install -q --index-url https://download.pytorch.org/whl/cpu 'torch==2.8.*'
    "$py" -m pip install -q numpy 'coqui-tts==0.28.*' safetensors py7zr
  fi
fi
"$py" -c 'import torch, numpy, TTS, safetensors' || { echo "run.sh: $py lacks torch, numpy, coqui-tts or safetensors" >&2; exit 2; }

bin=$out/ttsguard
(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/ttsguard)
chmod 755 "$out"
# shellcheck disable=SC2086
exec "$py" "$here/harness.py" --minutes "$minutes" --out "$out" --ttsguard "$bin" --python "$py" $pass
