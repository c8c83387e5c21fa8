#!/usr/bin/env bash
# make e2e-python (outside CI): the Python wheel with the real coqui-tts 0.28 and torch.
#   1. builds the wheel for this machine twice, the second time with an empty Go build cache, and
#      compares the bytes (reproducible from the same commit); `twine check` on its metadata;
#   2. creates a fresh venv (/usr/bin/python3 -m venv, no system site-packages), installs the wheel
#      (from the file only) and pytest;
#   3. gives that venv coqui-tts and torch: by default it layers the venv on an existing one that has
#      them (E2E_PYTHON_BASE, default /opt/e2e-venv when it imports TTS and torch): a .pth file adds its
#      site-packages after the venv's own, so ttsguard comes from the wheel and installing torch again
#      (minutes, gigabytes) is avoided; with E2E_PYTHON_BASE=none, or no such venv, it installs
#      coqui-tts and torch 2.8.0 from PyPI into the fresh venv instead;
#   4. runs python/tests/test_coqui_e2e.py (README's Python example exactly as written, malicious
#      checkpoints refused by ttsguard.torch.guard() and by ttsguard.coqui.TTS, a random-weight VITS
#      built with coqui's classes synthesised through ttsguard.coqui.TTS) from outside the repository.
# Needs PyPI for pytest and twine (and coqui-tts without a base venv); the tests themselves use no network.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
WORK=$(mktemp -d /tmp/ttsguard-e2e-python-XXXXXX)
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
step() { printf '\n== %s\n' "$*"; }
case $(uname -m) in
  x86_64|amd64) arch=x86_64 ;;
  aarch64|arm64) arch=aarch64 ;;
  *) echo "e2e-python: no wheel for $(uname -m)" >&2; exit 1 ;;
esac

step "build the wheel twice (the second with an empty Go build cache) and compare"
WHEEL_ARCHES=$arch WHEEL_OUT=$WORK/a scripts/build-wheel.sh
GOCACHE=$WORK/gocache WHEEL_ARCHES=$arch WHEEL_OUT=$WORK/b scripts/build-wheel.sh
wheel=$(ls "$WORK"/a/*.whl)
cmp "$wheel" "$WORK/b/$(basename "$wheel")"
echo "reproducible: $(sha256sum "$wheel")"

step "fresh venv with the wheel, pytest and twine"
"$PYTHON" -m venv "$WORK/venv"
V=$WORK/venv/bin
"$V/python" -m pip install -q --disable-pip-version-check pytest twine
"$V/python" -m pip install -q --no-index --disable-pip-version-check "$wheel"
"$V/twine" check --strict "$wheel"

BASE=${E2E_PYTHON_BASE:-/opt/e2e-venv}
if [ "$BASE" != none ] && [ -x "$BASE/bin/python" ] && "$BASE/bin/python" -c 'import TTS, torch' 2>/dev/null; then
  step "coqui-tts and torch from $BASE (layered under the fresh venv)"
  site=$("$BASE/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  own=$("$V/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  echo "import site; site.addsitedir('$site')" >"$own/zz-ttsguard-e2e-base.pth"
else
  step "install coqui-tts and torch 2.8.0 from PyPI (minutes)"
  "$V/python" -m pip install -q 'coqui-tts' "torch==${E2E_TORCH:-2.8.0}" "torchaudio==${E2E_TORCH:-2.8.0}" six
fi
"$V/python" - "$REPO" <<'PY'
import sys, ttsguard, TTS, torch
assert not ttsguard.__file__.startswith(sys.argv[1]), ttsguard.__file__
print("ttsguard", ttsguard.__version__, "from", ttsguard.__file__, "| coqui-tts", TTS.__version__, "| torch", torch.__version__)
PY

step "pytest python/tests/test_coqui_e2e.py"
cp python/tests/test_coqui_e2e.py "$WORK/"
cd "$WORK"
PATH="$V:$PATH" TTSGUARD_REPO=$REPO "$V/python" -m pytest -q -p no:cacheprovider test_coqui_e2e.py "$@"
