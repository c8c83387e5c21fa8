#!/usr/bin/env bash
# Live interoperability round trip between ttsguard and the reference Python
# model_signing 1.1.1 (OpenSSF Model Signing), in both directions:
#   ttsguard signs -> model_signing verifies, model_signing signs -> ttsguard verifies.
#
# Needs: python3 (3.11) with venv, PyPI access (unless $INTEROP_VENV already has the
# pinned packages), the test CA of ../shared/vectors/oms (or $OMS_VECTORS), and a built
# ttsguard (${TTSGUARD:-bin/ttsguard}).
#
# Environment:
#   TTSGUARD      ttsguard binary (default bin/ttsguard, relative to the repository root)
#   INTEROP_VENV  venv to reuse (created there if missing, packages installed if absent);
#                 default: a throwaway venv in the temp dir
#   OMS_VECTORS   the oms vectors folder (default ../shared/vectors/oms beside the checkout)
#   PYTHON        interpreter for the venv (default python3)
#   INTEROP_KEEP  set to 1 to keep the temp dir (for debugging)
#
# Prints "PASS name" / "FAIL name" per case (with the log of a failed case) and a
# closing "interop: N passed, N failed"; exits 1 if any case failed, 2 on a setup error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELPER=$ROOT/scripts/interop/helper.py
# The reference 1.1.1 imports pyOpenSSL without declaring it; pin it and cryptography
# so that the run does not drift with new releases.
PIP_PKGS=(model-signing==1.1.1 pyopenssl==26.4.0 cryptography==50.0.2)

die() { echo "interop: $*" >&2; exit 2; }

TG=${TTSGUARD:-bin/ttsguard}
if [[ $TG == */* ]]; then
  [[ -x $TG ]] || die "ttsguard binary $TG not found (run make build)"
  TG=$(cd "$(dirname "$TG")" && pwd)/$(basename "$TG")
else
  TG=$(command -v "$TG") || die "ttsguard binary $TG not found"
fi
VECTORS=${OMS_VECTORS:-$ROOT/../shared/vectors/oms}
CA=$VECTORS/model-transparency/keys/certificate
for f in ca-cert.pem int-ca-cert.pem int-ca-priv.pem signing-key.pem signing-key-pub.pem signing-key-cert.pem; do
  [[ -f $CA/$f ]] || die "test CA file $CA/$f missing (set OMS_VECTORS)"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/ttsguard-interop.XXXXXX")
cleanup() {
  if [[ ${INTEROP_KEEP:-} == 1 ]]; then echo "interop: kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
LOGS=$W/logs
mkdir -p "$LOGS" "$W/keys" "$W/m"
T0=$SECONDS

# ---------------------------------------------------------------- the reference venv
venv_ok() {
  [[ -x $1/bin/python && -x $1/bin/model_signing ]] || return 1
  "$1/bin/python" - "${PIP_PKGS[@]}" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    assert version(name) == want, (name, version(name), want)
import model_signing._cli, OpenSSL  # 1.1.1 needs pyOpenSSL at import
EOF
}
make_venv() {
  local v=$1
  if [[ ! -x $v/bin/python ]]; then
    "${PYTHON:-python3}" -m venv "$v" >"$LOGS/venv.log" 2>&1 || { cat "$LOGS/venv.log" >&2; die "cannot create venv $v"; }
  fi
  echo "interop: installing ${PIP_PKGS[*]} into $v" >&2
  "$v/bin/python" -m pip install --quiet --disable-pip-version-check "${PIP_PKGS[@]}" >>"$LOGS/venv.log" 2>&1 ||
    { tail -n 30 "$LOGS/venv.log" >&2; die "pip install failed"; }
  venv_ok "$v" || die "venv $v does not have ${PIP_PKGS[*]} after install"
}
if [[ -n ${INTEROP_VENV:-} ]]; then
  VENV=$INTEROP_VENV
  venv_ok "$VENV" || make_venv "$VENV"
else
  VENV=$W/venv
  make_venv "$VENV"
fi
PY=$VENV/bin/python
MS=$VENV/bin/model_signing
T_VENV=$((SECONDS - T0))

# ---------------------------------------------------------------- case machinery
NPASS=0 NFAIL=0 FAILED=()

# Cases run in the background, up to $JOBS at a time, each under set -e with its
# output in its own log; report() waits for them and prints results in order.
JOBS=${INTEROP_JOBS:-$(nproc 2>/dev/null || echo 2)}
((JOBS >= 1)) || JOBS=1
PENDING=()
logof() { echo "$LOGS/${1//\//__}.log"; }
run_case() { # run_case NAME FUNC ARGS...
  local log
  log=$(logof "$1")
  shift
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
  (
    set +e
    (set -e; "$@") >"$log" 2>&1
    echo $? >"$log.rc"
  ) &
}
report() {
  local name log
  wait
  for name in "${PENDING[@]}"; do
    log=$(logof "$name")
    if [[ $(cat "$log.rc" 2>/dev/null) == 0 ]]; then
      NPASS=$((NPASS + 1))
      echo "PASS $name"
    else
      NFAIL=$((NFAIL + 1))
      FAILED+=("$name")
      echo "FAIL $name"
      sed -e 's/^/    | /' "$log" | tail -n 25
    fi
  done
  PENDING=()
}

# Commands, echoed into the case log.
tg() { echo "+ ttsguard $*"; "$TG" "$@"; }
ms() { echo "+ model_signing $*"; "$MS" "$@"; }
py() { echo "+ helper.py $*"; "$PY" "$HELPER" "$@"; }

# ok CMD...: CMD must exit 0.
ok() {
  local rc=0
  "$@" || rc=$?
  ((rc == 0)) || { echo "!! expected exit 0, got $rc"; return 1; }
}
# fails PATTERN CMD...: CMD must exit 1 (a failed verification, not a usage error)
# and print something matching the extended regexp PATTERN.
fails() {
  local pat=$1 rc=0 out
  shift
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out"
  ((rc == 1)) || { echo "!! expected exit 1, got $rc"; return 1; }
  grep -Eq -- "$pat" <<<"$out" || { echo "!! output does not match /$pat/"; return 1; }
}
# refuses PATTERN CMD...: CMD must exit 2 (bad input) and print something matching PATTERN.
refuses() {
  local pat=$1 rc=0 out
  shift
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out"
  ((rc == 2)) || { echo "!! expected exit 2, got $rc"; return 1; }
  grep -Eq -- "$pat" <<<"$out" || { echo "!! output does not match /$pat/"; return 1; }
}
# ms_ok ARGS...: model_signing ARGS must exit 0 and say it succeeded.
ms_ok() {
  local out rc=0
  out=$(ms "$@" 2>&1) || rc=$?
  printf '%s\n' "$out"
  ((rc == 0)) && grep -q 'succeeded' <<<"$out" || { echo "!! model_signing exit $rc"; return 1; }
}
same() { # same WHAT A B
  echo "$1: $2 vs $3"
  [[ -n $2 && $2 == "$3" ]] || { echo "!! $1 differ"; return 1; }
}

# ---------------------------------------------------------------- fixtures
# A folder model whose names sort differently by path components and by bytes,
# with hidden files, an empty file and nested dirs.
make_model() {
  local d=$1
  mkdir -p "$d/checkpoint" "$d/checkpoint-1000" "$d/tokenizer" "$d/sub" "$d/deep/d1/d2" "$d/scratch/tmp"
  printf 'checkpoint a weights\n' >"$d/checkpoint/a"
  printf 'checkpoint-1000 a weights, later step\n' >"$d/checkpoint-1000/a"
  printf 'hello\nworld\n\xc3\xa9t\xc3\xa9\n' >"$d/tokenizer/vocab.txt"
  printf '{"model": {"type": "BPE"}, "added_tokens": []}\n' >"$d/tokenizer.json"
  printf 'hidden\n' >"$d/.hidden"
  printf '[cfg]\nx = 1\n' >"$d/sub/.cfg"
  : >"$d/empty"
  printf '{"sample_rate": 22050}' >"$d/config.json"
  # 60 bytes: 8-byte shards leave a 4-byte tail.
  printf 'VITS model weights: 0123456789abcdefghijklmnopqrstuvwxyz!!!!' >"$d/model.safetensors"
  printf '%s' "$(seq 1 200)" >"$d/deep/d1/d2/weights.bin"
  printf 'notes, not signed\n' >"$d/notes.txt"
  printf 'scratch\n' >"$d/scratch/tmp/run.log"
}
BASE=$W/base
make_model "$BASE"
# model COPYNAME: a fresh copy of the base model, path printed.
model() { local d=$W/m/$1; rm -rf "$d"; cp -a "$BASE" "$d"; echo "$d"; }
# tampered copies of a signed model.
copy_signed() { local d=$W/m/$2; rm -rf "$d"; cp -a "$1" "$d"; echo "$d"; }
flip_byte() { # FILE OFFSET: xor one byte with 1
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  [[ -n $b ]] || { echo "!! $1 has no byte at $2"; return 1; }
  # shellcheck disable=SC2059
  printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# Keys. ttsguard-made P-256, Python-made P-256, the vector P-384, ttsguard-made P-384,
# an encrypted key of each tool.
K=$W/keys
PW='interop pass w0rd'
printf '%s\n' "$PW" >"$K/pw.txt" # ttsguard drops one trailing newline
setup() {
  "$TG" keygen --curve p256 --out "$K/tg256" >/dev/null
  "$TG" keygen --curve p384 --out "$K/tg384" >/dev/null
  "$TG" keygen --curve p256 --password-file "$K/pw.txt" --out "$K/tgenc" >/dev/null
  "$PY" "$HELPER" genkey --curve p256 --out "$K/py256"
  "$PY" "$HELPER" genkey --curve p384 --password "$PW" --out "$K/pyenc"
  cp "$CA/signing-key.pem" "$K/vec384.key"
  cp "$CA/signing-key-pub.pem" "$K/vec384.pub"
  # Leaf certificates from the test intermediate CA.
  "$PY" "$HELPER" issue --public-key "$K/py256.pub" --ca-cert "$CA/int-ca-cert.pem" --ca-key "$CA/int-ca-priv.pem" --cn interop-p256 --out "$K/py256.crt"
  "$PY" "$HELPER" issue --public-key "$K/tg384.pub" --ca-cert "$CA/int-ca-cert.pem" --ca-key "$CA/int-ca-priv.pem" --cn interop-p384 --out "$K/tg384.crt"
  cp "$CA/signing-key-cert.pem" "$K/vec384.crt"
  # A TLS server certificate (EKU serverAuth only) of the same intermediate, and a
  # self-signed signing certificate (CA:true, digitalSignature only) as the OMS
  # conformance suite uses.
  "$PY" "$HELPER" issue --public-key "$K/py256.pub" --ca-cert "$CA/int-ca-cert.pem" --ca-key "$CA/int-ca-priv.pem" --cn interop-tls --eku serverAuth --out "$K/tls256.crt"
  "$PY" "$HELPER" selfsign --private-key "$K/py256.key" --out "$K/self256.crt"
}
setup >"$LOGS/setup.log" 2>&1 || { cat "$LOGS/setup.log" >&2; die "fixture setup failed"; }

# ---------------------------------------------------------------- cases
declare -A SIGNED # case name -> signed model folder (for the tamper cases)

# Key mode, files, folder model.
key_tg2ref() { # KEY [--password-file F]
  local k=$1 m
  shift
  m=$(model "$CASE")
  ok tg sign key --private-key "$K/$k.key" "$@" "$m"
  ms_ok verify key "$m" --signature "$m/model.sig" --public_key "$K/$k.pub"
}
key_ref2tg() { # KEY [--password PW]
  local k=$1 m
  shift
  m=$(model "$CASE")
  ms_ok sign key "$m" --signature "$m/model.sig" --private_key "$K/$k.key" "$@"
  ok tg verify key --public-key "$K/$k.pub" "$m"
}
# Encrypted key, reference side: through the Python API, password as bytes (the 1.1.1
# CLI's --password is broken: it hands a str to cryptography, "Cannot convert ... to a buffer").
key_ref2tg_password() { # KEY PASSWORD
  local m
  m=$(model "$CASE")
  ok py sign --private-key "$K/$1.key" --password "$2" --signature "$m/model.sig" "$m"
  ok tg verify key --public-key "$K/$1.pub" "$m"
  ms_ok verify key "$m" --signature "$m/model.sig" --public_key "$K/$1.pub"
}
cert_tg2ref() { # KEY (KEY.key + KEY.crt)
  local m
  m=$(model "$CASE")
  ok tg sign certificate --private-key "$K/$1.key" --signing-certificate "$K/$1.crt" \
    --certificate-chain "$CA/int-ca-cert.pem" "$m"
  ms_ok verify certificate "$m" --signature "$m/model.sig" --certificate_chain "$CA/ca-cert.pem"
}
cert_ref2tg() {
  local m
  m=$(model "$CASE")
  ms_ok sign certificate "$m" --signature "$m/model.sig" --private_key "$K/$1.key" \
    --signing_certificate "$K/$1.crt" --certificate_chain "$CA/int-ca-cert.pem"
  ok tg verify certificate --certificate-chain "$CA/ca-cert.pem" "$m"
}
shards_tg2ref() { # KEY SIZE|default
  local m size=$2 args=()
  m=$(model "$CASE")
  if [[ $size == default ]]; then size=1000000000; else args=(--shard-size "$size"); fi
  ok tg sign key --private-key "$K/$1.key" --shards "${args[@]}" "$m"
  py field "$m/model.sig" method shard_size
  ok py verify --public-key "$K/$1.pub" --shard-size "$size" --signature "$m/model.sig" "$m"
}
shards_ref2tg() { # KEY SIZE
  local m
  m=$(model "$CASE")
  ok py sign --private-key "$K/$1.key" --shard-size "$2" --signature "$m/model.sig" "$m"
  py field "$m/model.sig" method shard_size
  ok tg verify key --public-key "$K/$1.pub" "$m"
}
single_tg2ref() {
  local d=$W/m/$CASE
  mkdir -p "$d"
  printf 'single file model \x00\x01\x02 voice.pth\n' >"$d/voice.pth"
  ok tg sign key --private-key "$K/$1.key" "$d/voice.pth"
  [[ -f $d/voice.pth.sig ]] || { echo "!! no voice.pth.sig beside the model"; return 1; }
  ms_ok verify key "$d/voice.pth" --signature "$d/voice.pth.sig" --public_key "$K/$1.pub"
}
single_ref2tg() {
  local d=$W/m/$CASE
  mkdir -p "$d"
  printf 'single file model \x00\x01\x02 voice.pth\n' >"$d/voice.pth"
  ms_ok sign key "$d/voice.pth" --signature "$d/voice.pth.sig" --private_key "$K/$1.key"
  ok tg verify key --public-key "$K/$1.pub" "$d/voice.pth"
  same "digest vs reference root" "$(tg digest "$d/voice.pth" | tail -n1 | sed 's/^sha256://')" "$(py root "$d/voice.pth.sig" | tail -n1)"
}
# Ignore paths: a file and a folder. ttsguard is given absolute paths from elsewhere,
# the reference relative ones from inside the model (it resolves them against the CWD).
# Then the ignored files change and verification (without --ignore-paths, from another
# CWD) must still pass on both sides: the signed ignore_paths apply.
ignore_tg2ref() {
  local m
  m=$(model "$CASE")
  (cd "$W" && ok tg sign key --private-key "$K/$1.key" --ignore-paths "$m/notes.txt" --ignore-paths "$m/scratch" "$m")
  py field "$m/model.sig" ignore_paths
  printf 'changed\n' >>"$m/notes.txt"
  printf 'new\n' >"$m/scratch/new.log"
  (cd "$W" && ms_ok verify key "$m" --signature "$m/model.sig" --public_key "$K/$1.pub")
  (cd "$W" && ok tg verify key --public-key "$K/$1.pub" "$m")
}
ignore_ref2tg() {
  local m
  m=$(model "$CASE")
  (cd "$m" && ms_ok sign key "$m" --signature "$m/model.sig" --private_key "$K/$1.key" \
    --ignore-paths notes.txt --ignore-paths scratch)
  py field "$m/model.sig" ignore_paths
  same "digest --ignore-paths vs reference root" \
    "$(cd "$m" && tg digest --ignore-paths notes.txt --ignore-paths scratch "$m" | tail -n1 | sed 's/^sha256://')" \
    "$(py root "$m/model.sig" | tail -n1)"
  printf 'changed\n' >>"$m/notes.txt"
  printf 'new\n' >"$m/scratch/new.log"
  (cd "$W" && ok tg verify key --public-key "$K/$1.pub" "$m")
  (cd "$W" && ms_ok verify key "$m" --signature "$m/model.sig" --public_key "$K/$1.pub")
}
# Certificates the reference accepts that ttsguard once refused: a bundle with the
# leaf alone, verified with the root and the intermediate as anchors; a self-signed
# leaf as its own anchor (given once in the bundle, or twice as the conformance
# suite signs it).
cert_leafonly_tg2ref() {
  local m
  m=$(model "$CASE")
  ok tg sign certificate --private-key "$K/$1.key" --signing-certificate "$K/$1.crt" "$m"
  ms_ok verify certificate "$m" --signature "$m/model.sig" --certificate_chain "$CA/ca-cert.pem" --certificate_chain "$CA/int-ca-cert.pem"
  ok tg verify certificate --certificate-chain "$CA/ca-cert.pem" --certificate-chain "$CA/int-ca-cert.pem" "$m"
}
cert_leafonly_ref2tg() {
  local m
  m=$(model "$CASE")
  # The 1.1.1 CLI cannot sign with no chain ("Unable to load PEM file": it parses the
  # empty concatenation of the chain files); give it the leaf again, so the bundle
  # still carries no intermediate.
  ms_ok sign certificate "$m" --signature "$m/model.sig" --private_key "$K/$1.key" --signing_certificate "$K/$1.crt" \
    --certificate_chain "$K/$1.crt"
  ok tg verify certificate --certificate-chain "$CA/ca-cert.pem" --certificate-chain "$CA/int-ca-cert.pem" "$m"
  fails 'not a self-signed root' tg verify certificate --certificate-chain "$CA/int-ca-cert.pem" "$m"
}
cert_self_tg2ref() {
  local m
  m=$(model "$CASE")
  ok tg sign certificate --private-key "$K/py256.key" --signing-certificate "$K/self256.crt" "$m"
  ms_ok verify certificate "$m" --signature "$m/model.sig" --certificate_chain "$K/self256.crt"
  ok tg verify certificate --certificate-chain "$K/self256.crt" "$m"
}
cert_self_ref2tg() {
  local m
  m=$(model "$CASE")
  ms_ok sign certificate "$m" --signature "$m/model.sig" --private_key "$K/py256.key" \
    --signing_certificate "$K/self256.crt" --certificate_chain "$K/self256.crt"
  ok tg verify certificate --certificate-chain "$K/self256.crt" "$m"
}
# A TLS server certificate: the reference accepts it as a model signer, ttsguard
# only with --allow-any-eku.
cert_tls_ref2tg() {
  local m
  m=$(model "$CASE")
  ms_ok sign certificate "$m" --signature "$m/model.sig" --private_key "$K/py256.key" \
    --signing_certificate "$K/tls256.crt" --certificate_chain "$CA/int-ca-cert.pem"
  ms_ok verify certificate "$m" --signature "$m/model.sig" --certificate_chain "$CA/ca-cert.pem"
  fails 'lacks the code-signing extended key usage' tg verify certificate --certificate-chain "$CA/ca-cert.pem" "$m"
  ok tg verify certificate --allow-any-eku --certificate-chain "$CA/ca-cert.pem" "$m"
}
# Git files signed too (--no-ignore-git-paths on both sides). ttsguard's verifier
# follows the statement without the flag; the reference's needs it.
git_model() {
  local m
  m=$(model "$CASE")
  mkdir -p "$m/.git" "$m/.github/workflows"
  printf 'ref: refs/heads/main\n' >"$m/.git/HEAD"
  printf 'on: push\n' >"$m/.github/workflows/ci.yml"
  printf '*.bin filter=lfs\n' >"$m/.gitattributes"
  printf '*.tmp\n' >"$m/.gitignore"
  echo "$m"
}
git_tg2ref() {
  local m
  m=$(git_model)
  ok tg sign key --private-key "$K/$1.key" --no-ignore-git-paths "$m"
  py field "$m/model.sig" ignore_paths
  ms_ok verify key "$m" --signature "$m/model.sig" --public_key "$K/$1.pub" --no-ignore-git-paths
  ok tg verify key --public-key "$K/$1.pub" "$m"
  printf 'changed\n' >>"$m/.gitignore"
  fails '1 changed' tg verify key --public-key "$K/$1.pub" "$m"
}
git_ref2tg() {
  local m
  m=$(git_model)
  ms_ok sign key "$m" --signature "$m/model.sig" --private_key "$K/$1.key" --no-ignore-git-paths
  py field "$m/model.sig" ignore_paths
  ok tg verify key --public-key "$K/$1.pub" "$m"
  same "digest vs reference root" \
    "$(tg sign key --private-key "$K/$1.key" --no-ignore-git-paths --ignore-paths model.sig --signature "$W/$CASE.tg.sig" "$m" >/dev/null && py root "$W/$CASE.tg.sig" | tail -n1)" \
    "$(py root "$m/model.sig" | tail -n1)"
}
# An empty model (only a default-ignored file): ttsguard refuses to sign it (exit 2);
# the reference signs it, and ttsguard refuses to verify its statement (exit 1).
empty_model() {
  local d=$W/m/$CASE
  mkdir -p "$d"
  printf '*.tmp\n' >"$d/.gitignore"
  refuses 'nothing to sign' tg sign key --private-key "$K/$1.key" "$d"
  [[ ! -e $d/model.sig ]] || { echo "!! ttsguard wrote a signature"; return 1; }
  ms_ok sign key "$d" --signature "$d/model.sig" --private_key "$K/$1.key"
  fails 'no resources' tg verify key --public-key "$K/$1.pub" "$d"
}
# ttsguard digest == root digest of reference-made bundles (signature outside the model).
digest_files() {
  local m
  m=$(model "$CASE")
  ms_ok sign key "$m" --signature "$W/$CASE.sig" --private_key "$K/$1.key"
  same "digest vs reference root" "$(tg digest "$m" | tail -n1 | sed 's/^sha256://')" "$(py root "$W/$CASE.sig" | tail -n1)"
}
digest_shards() { # KEY SIZE
  local m
  m=$(model "$CASE")
  ok py sign --private-key "$K/$1.key" --shard-size "$2" --signature "$W/$CASE.sig" "$m"
  same "digest --shards vs reference root" \
    "$(tg digest --shards --shard-size "$2" "$m" | tail -n1 | sed 's/^sha256://')" "$(py root "$W/$CASE.sig" | tail -n1)"
}

# Tampering: on a copy of a signed model; both verifiers must fail for the right reason.
# tamper SIGNEDCASE KIND(byte|extra|delete) VERIFY(key|cert|shards:SIZE) KEY
tamper() {
  local src=${SIGNED[$1]} kind=$2 how=$3 k=$4 m rpat tpat file=checkpoint-1000/a
  [[ -d $src/. ]] || { echo "!! signed model of $1 missing"; return 1; }
  m=$(copy_signed "$src" "$CASE")
  case $kind in
  byte)
    [[ $how == single ]] && file=voice.pth
    flip_byte "$m/$file" 9
    rpat='Hash mismatch for'
    tpat='[1-9][0-9]* changed'
    ;;
  extra)
    printf 'extra\n' >"$m/tokenizer/extra.json"
    rpat='Extra files found'
    tpat='[1-9][0-9]* extra'
    ;;
  delete)
    rm "$m/tokenizer.json"
    rpat='Missing files'
    tpat='[1-9][0-9]* missing'
    ;;
  esac
  case $how in
  key)
    fails "$rpat" ms verify key "$m" --signature "$m/model.sig" --public_key "$K/$k.pub"
    fails "$tpat" tg verify key --public-key "$K/$k.pub" "$m"
    ;;
  cert)
    fails "$rpat" ms verify certificate "$m" --signature "$m/model.sig" --certificate_chain "$CA/ca-cert.pem"
    fails "$tpat" tg verify certificate --certificate-chain "$CA/ca-cert.pem" "$m"
    ;;
  shards:*)
    fails "$rpat" py verify --public-key "$K/$k.pub" --shard-size "${how#shards:}" --signature "$m/model.sig" "$m"
    fails "$tpat" tg verify key --public-key "$K/$k.pub" "$m"
    ;;
  single)
    fails "$rpat" ms verify key "$m/voice.pth" --signature "$m/voice.pth.sig" --public_key "$K/$k.pub"
    fails "$tpat" tg verify key --public-key "$K/$k.pub" "$m/voice.pth"
    ;;
  esac
}

c() { # c NAME FUNC ARGS...: a case, remembered for tampering
  CASE=${1//\//__} # its folder name under $W/m
  SIGNED[$1]=$W/m/$CASE
  PENDING+=("$1")
  run_case "$@"
}

echo "interop: ttsguard $("$TG" --version 2>/dev/null | head -n1) vs model_signing 1.1.1 ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

# key, files mode, folder model
c key-p256-ttsguard-keygen/ttsguard-signs key_tg2ref tg256
c key-p256-ttsguard-keygen/reference-signs key_ref2tg tg256
c key-p256-python-key/ttsguard-signs key_tg2ref py256
c key-p256-python-key/reference-signs key_ref2tg py256
c key-p384-vector/ttsguard-signs key_tg2ref vec384
c key-p384-vector/reference-signs key_ref2tg vec384
c key-p384-ttsguard-keygen/ttsguard-signs key_tg2ref tg384
c key-p384-ttsguard-keygen/reference-signs key_ref2tg tg384
# encrypted private keys
c password-ttsguard-key/ttsguard-signs key_tg2ref tgenc --password-file "$K/pw.txt"
c password-ttsguard-key/reference-signs key_ref2tg_password tgenc "$PW"
c password-python-key/ttsguard-signs key_tg2ref pyenc --password-file "$K/pw.txt"
c password-python-key/reference-signs key_ref2tg_password pyenc "$PW"
# certificates: fresh leaves from the test intermediate CA, chain leaf+int, root trusted
c cert-p256-leaf/ttsguard-signs cert_tg2ref py256
c cert-p256-leaf/reference-signs cert_ref2tg py256
c cert-p384-leaf/ttsguard-signs cert_tg2ref tg384
c cert-p384-leaf/reference-signs cert_ref2tg tg384
c cert-vector-leaf/ttsguard-signs cert_tg2ref vec384
c cert-vector-leaf/reference-signs cert_ref2tg vec384
c cert-leaf-only-root-and-intermediate-anchors/ttsguard-signs cert_leafonly_tg2ref py256
c cert-leaf-only-root-and-intermediate-anchors/reference-signs cert_leafonly_ref2tg tg384
c cert-self-signed-leaf/ttsguard-signs cert_self_tg2ref
c cert-self-signed-leaf/reference-signs cert_self_ref2tg
c cert-tls-server-leaf/reference-signs cert_tls_ref2tg
c git-paths-signed/ttsguard-signs git_tg2ref tg256
c git-paths-signed/reference-signs git_ref2tg py256
c empty-model/refused empty_model tg256
# shards (reference side through its Python API, shard size given explicitly)
c shards-8/ttsguard-signs shards_tg2ref vec384 8
c shards-8/reference-signs shards_ref2tg vec384 8
c shards-default/ttsguard-signs shards_tg2ref tg256 default
c shards-default/reference-signs shards_ref2tg tg256 1000000000
# model shapes
c single-file/ttsguard-signs single_tg2ref tg256
c single-file/reference-signs single_ref2tg py256
c ignore-paths/ttsguard-signs ignore_tg2ref vec384
c ignore-paths/reference-signs ignore_ref2tg tg256
c digest/files-equals-reference-root digest_files py256
c digest/shards-8-equals-reference-root digest_shards tg256 8
c digest/shards-default-equals-reference-root digest_shards tg256 1000000000
report
# tampering: every kind on a model signed by each side, both verifiers must fail
for dir in ttsguard-signs reference-signs; do
  for kind in byte extra delete; do
    c "tamper-$kind/key-$dir" tamper "key-p384-vector/$dir" "$kind" key vec384
  done
  c "tamper-byte/cert-$dir" tamper "cert-p256-leaf/$dir" byte cert py256
  c "tamper-byte/shards-8-$dir" tamper "shards-8/$dir" byte shards:8 vec384
  c "tamper-delete/shards-8-$dir" tamper "shards-8/$dir" delete shards:8 vec384
  c "tamper-byte/single-file-$dir" tamper "single-file/$dir" byte single "$([[ $dir == ttsguard-signs ]] && echo tg256 || echo py256)"
done

report
echo "interop: venv ${T_VENV}s, cases $((SECONDS - T0 - T_VENV))s"
echo "interop: $NPASS passed, $NFAIL failed"
if ((NFAIL > 0)); then
  printf 'interop: failed: %s\n' "${FAILED[@]}"
  exit 1
fi
