#!/usr/bin/env bash
# The light tests of the Python package (part of `make test`; no torch, no coqui, no network):
# build the wheel for this machine's architecture, check that two builds are byte for byte the same,
# install it into a fresh venv of /usr/bin/python3 (python3 -m venv; pip installs from the wheel
# file only, --no-index), then run python/tests/test_api.py with that venv's Python from outside
# the repository, so that `import ttsguard` is the installed wheel and `ttsguard` its command.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
WORK=$(mktemp -d /tmp/ttsguard-pytest-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
case $(uname -m) in
  x86_64|amd64) arch=x86_64 ;;
  aarch64|arm64) arch=aarch64 ;;
  *) echo "test-python: no wheel for $(uname -m)" >&2; exit 1 ;;
esac
WHEEL_ARCHES=$arch WHEEL_OUT=$WORK/a scripts/build-wheel.sh >/dev/null
WHEEL_ARCHES=$arch WHEEL_OUT=$WORK/b scripts/build-wheel.sh >/dev/null
wheel=$(ls "$WORK"/a/*.whl)
cmp "$wheel" "$WORK/b/$(basename "$wheel")" || { echo "test-python: two builds of the wheel differ" >&2; exit 1; }
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --no-index --disable-pip-version-check "$wheel"
cp python/tests/test_api.py "$WORK/"
cd "$WORK"
PATH="$WORK/venv/bin:$PATH" TTSGUARD_REPO=$REPO TTSGUARD_WHEEL=$wheel "$WORK/venv/bin/python" -m unittest -v test_api 2>&1
