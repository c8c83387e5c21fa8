#!/usr/bin/env bash
# Runs the OMS conformance suite (github.com/sampras343/model-signing-conformance)
# against ttsguard through scripts/conformance/adapter, offline.
#
# The suite is not on a package registry, and its requirements name
# `oms-schemas` as a git URL (github.com/sampras343/model-signing-spec), which
# is not on PyPI either; so this script needs checkouts of both repositories,
# given as a work tree or a bare git directory (then HEAD is exported):
#   CONFORMANCE_DIR   the conformance suite (results below: commit 114b0f7)
#   OMS_SCHEMAS_DIR   model-signing-spec, for its oms_schemas package (ca958ac)
# pytest, pytest-json-report, jsonschema and referencing come from PyPI into a
# throwaway venv (or $CONFORMANCE_VENV, reused when it has them).
#
# Environment:
#   TTSGUARD          ttsguard binary (default bin/ttsguard)
#   PYTHON            interpreter for the venv (default python3)
#   CONFORMANCE_KEEP  1 keeps the temp dir
#   CONFORMANCE_ARGS  more pytest arguments (e.g. -k key-simple)
#
# Keyless cases need an OIDC token (SIGSTORE_ID_TOKEN) and the network; the suite
# skips them without one. ttsguard cannot sign keyless, so the adapter refuses
# `sign-model --method sigstore` (exit 2).
#
# Prints pytest's summary and a closing "conformance: N passed, N failed, N skipped";
# exits 1 if a case failed, 2 on a setup error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
die() { echo "conformance: $*" >&2; exit 2; }
PIP_PKGS=(pytest==9.2.0 pytest-json-report==1.5.0 jsonschema==4.26.0 referencing==0.37.0)

TG=${TTSGUARD:-bin/ttsguard}
[[ -x $TG ]] || die "ttsguard binary $TG not found (run make build)"
TG=$(cd "$(dirname "$TG")" && pwd)/$(basename "$TG")
[[ -n ${CONFORMANCE_DIR:-} ]] || die "set CONFORMANCE_DIR to a checkout of sampras343/model-signing-conformance (not on any registry: see the header of $0)"
[[ -n ${OMS_SCHEMAS_DIR:-} ]] || die "set OMS_SCHEMAS_DIR to a checkout of sampras343/model-signing-spec (its oms-schemas package is not on PyPI)"

W=$(mktemp -d "${TMPDIR:-/tmp}/ttsguard-conformance.XXXXXX")
cleanup() {
  if [[ ${CONFORMANCE_KEEP:-} == 1 ]]; then echo "conformance: kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

# tree DIR NAME: a work tree for DIR (a work tree, or a bare git directory whose HEAD is exported).
tree() {
  local d=$1 name=$2
  if [[ -d $d/.git || ! -f $d/HEAD ]]; then
    [[ -d $d ]] || die "$d: not a folder"
    echo "$d"
    return
  fi
  mkdir -p "$W/$name"
  git --git-dir="$d" archive HEAD | tar -x -C "$W/$name" || die "cannot export $d"
  echo "conformance: $name at $(git --git-dir="$d" rev-parse --short HEAD)" >&2
  echo "$W/$name"
}
SUITE=$(tree "$CONFORMANCE_DIR" suite)
SCHEMAS=$(tree "$OMS_SCHEMAS_DIR" schemas)
[[ -f $SUITE/test/conftest.py ]] || die "$SUITE has no test/conftest.py: not the conformance suite"
[[ -f $SCHEMAS/schemas/__init__.py ]] || die "$SCHEMAS has no schemas/__init__.py: not model-signing-spec"

VENV=${CONFORMANCE_VENV:-$W/venv}
if ! "$VENV/bin/python" -c 'import pytest, pytest_jsonreport, jsonschema, referencing, oms_schemas' 2>/dev/null; then
  [[ -x $VENV/bin/python ]] || "${PYTHON:-python3}" -m venv "$VENV" >"$W/venv.log" 2>&1 || { cat "$W/venv.log" >&2; die "cannot create venv $VENV"; }
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PIP_PKGS[@]}" "$SCHEMAS" >>"$W/venv.log" 2>&1 ||
    { tail -n 30 "$W/venv.log" >&2; die "pip install failed"; }
fi

echo "conformance: ttsguard $("$TG" --version 2>/dev/null | head -n1)"
rc=0
(cd "$SUITE" && TTSGUARD=$TG "$VENV/bin/python" -m pytest test/ -p no:cacheprovider -q -rfEs \
  --entrypoint="$ROOT/scripts/conformance/adapter" --json-report --json-report-file="$W/report.json" \
  ${CONFORMANCE_ARGS:-}) || rc=$?
"$VENV/bin/python" - "$W/report.json" <<'EOF' || die "no report"
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f"conformance: {s.get('passed', 0)} passed, {s.get('failed', 0) + s.get('error', 0)} failed, {s.get('skipped', 0)} skipped")
EOF
case $rc in
0) exit 0 ;;
1) exit 1 ;;
*) die "pytest exited $rc" ;;
esac
