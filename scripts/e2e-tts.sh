#!/usr/bin/env bash
# End to end with the real coqui TTS server (outside CI): installs coqui-tts from PyPI into a
# throwaway virtual environment, pulls a model into a throwaway store, starts
#   ttsguard run NAME --tts-server --host 127.0.0.1 --port PORT
# and synthesizes a sentence with curl (the answer must be a WAV).
#
# Needs internet: PyPI for coqui-tts (and torch), and coqui's release hosts for the model.
# With E2E_OFFLINE=1 the model is not downloaded: coqui's own classes build a VITS model with random
# weights (it speaks noise) that is pulled as a local folder, so only PyPI is needed.
# Run it as root to exercise the switch to a fresh serving user (the store is created with the group nogroup).
# Hugging Face steps (hf:// pull with a requirement, a catalog entry by repo_id, the requirement found offline by
# the real huggingface_hub in the sandbox) use scripts/fakehub, a loopback fake of the Hub: no Hub access needed.
#
#   scripts/e2e-tts.sh [MODEL_ID]      default tts_models/en/ljspeech/vits
# With E2E_ENCRYPT=1 the store is encrypted at rest after the pull (store.encryption with a fresh age key,
# `store encrypt`): the model's config is checked to be in no file under the store, `path` must refuse the
# model, and the server and the command-line synthesis run on the plaintext that `run` decrypts into a
# tmpfs of the sandbox's own mount namespace (root only); the later steps, which need `path`, are skipped.
# With E2E_ENCRYPT=1 and E2E_RUN_AS=UID (started as root) the runs are made by that user instead, a server of the
# policy's access section who is not root and owns a copy of the identity: `run` then gives the command the
# plaintext in sealed memfds behind a private folder of links to /proc/self/fd/N (docs/storage.md).
# Environment: E2E_OFFLINE=1, E2E_ENCRYPT=1, E2E_RUN_AS=UID, E2E_PORT (default 5002), E2E_KEEP=1 (keep the work folder),
# E2E_VENV (an existing virtual environment with coqui-tts: skip the install; it must be readable by
# the serving user), E2E_TORCH (torch and torchaudio version, default 2.8.0: torchaudio trails torch on PyPI, and from
# 2.9 coqui needs torchcodec, which needs FFmpeg libraries),
# PYTHON (default python3; coqui-tts needs 3.10 to 3.13).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
MODEL=${1:-tts_models/en/ljspeech/vits}
PORT=${E2E_PORT:-5002}
PYTHON=${PYTHON:-python3}

WORK=$(mktemp -d /tmp/ttsguard-e2e-XXXXXX)
chmod 755 "$WORK" # the serving user must traverse it to the store and the venv
RUN_AS=${E2E_RUN_AS:-}
AS=() # how the runs are started: as the caller, or (E2E_RUN_AS) as that user with a TMPDIR of its own
RUN_UID=$(id -u)
if [ -n "$RUN_AS" ]; then
  [ "${E2E_ENCRYPT:-}" = 1 ] && [ "$(id -u)" = 0 ] || { echo "E2E_RUN_AS needs E2E_ENCRYPT=1 and root"; exit 1; }
  mkdir -m 700 "$WORK/run-tmp" "$WORK/cli-out"
  chown "$RUN_AS:$RUN_AS" "$WORK/run-tmp" "$WORK/cli-out"
  AS=(setpriv --reuid "$RUN_AS" --regid "$RUN_AS" --clear-groups env "TMPDIR=$WORK/run-tmp" "HOME=$WORK/run-tmp")
  RUN_UID=$RUN_AS
fi
SERVER_PID=
HUB_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null || true
  if [ "${E2E_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "build ttsguard (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -o "$WORK/ttsguard" ./cmd/ttsguard
TG="$WORK/ttsguard"
go build -o "$WORK/fakehub" ./scripts/fakehub # a loopback fake of the Hugging Face Hub (the last step)
"$TG" run --help >/dev/null 2>&1 || { echo "this ttsguard has no run command (is it registered in internal/cli/root.go?)"; exit 1; }

VENV=${E2E_VENV:-$WORK/venv}
if [ -z "${E2E_VENV:-}" ]; then
  step "install coqui-tts[server,cpu] into $VENV (PyPI)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # A torch and torchaudio pair built together (torch alone may be newer than any torchaudio);
  # coqui-tts 0.28 imports six without declaring it.
  "$VENV/bin/pip" install -q 'coqui-tts[server,cpu]' "torch==${E2E_TORCH:-2.8.0}" "torchaudio==${E2E_TORCH:-2.8.0}" six
fi
export PATH="$VENV/bin:$PATH" # tts-server, and the python that finds coqui's catalog
command -v tts-server

step "tests that compare ttsguard with this coqui-tts (config path rewriting, dataset formatters)"
TTSGUARD_COQUI_PYTHON="$VENV/bin/python" go test -count=1 -run 'TestRewriteConfigAgreesWithCoqui|TestCoquiDifferential' ./internal/sandbox ./internal/dataset

cat >"$WORK/ttsguard.yaml" <<EOF
version: 1
store: store
EOF

if [ "${E2E_OFFLINE:-}" = 1 ]; then
  step "build a VITS model with random weights (offline)"
  NAME=e2e-random-vits
  "$VENV/bin/python" - "$WORK/$NAME" <<'EOF'
import os, sys, torch
from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.models.vits import Vits
from TTS.config.shared_configs import BaseDatasetConfig
from torch.utils.tensorboard import SummaryWriter
out = sys.argv[1]
os.makedirs(out)
cfg = VitsConfig()
cfg.use_phonemes = False
cfg.text_cleaner = "basic_cleaners"
# As coqui's trainer leaves a run folder: the training machine's absolute paths in training-only fields,
# TensorBoard logs, a trainer log and an earlier checkpoint next to the model.
cfg.output_path = "/home/trainer/runs/vits-e2e"
cfg.datasets = [BaseDatasetConfig(formatter="ljspeech", path="/data/LJSpeech-1.1/", meta_file_train="metadata.csv")]
model = Vits.init_from_config(cfg)
torch.save({"model": model.state_dict()}, os.path.join(out, "model_file.pth"))
torch.save({"step": 10}, os.path.join(out, "checkpoint_10.pth"))
cfg.save_json(os.path.join(out, "config.json"))
w = SummaryWriter(out)
w.add_scalar("loss", 1.5, 10)
w.close()
open(os.path.join(out, "trainer_0_log.txt"), "w").write("step 10 loss 1.5\n")
EOF
  cat >>"$WORK/ttsguard.yaml" <<EOF
models:
  $NAME:
    files:
      exclude: [checkpoint_*.pth, events.out.tfevents.*, trainer_*_log.txt]
EOF
  step "pull the trainer's folder as it is (training-only paths, logs, an earlier checkpoint)"
  "$TG" pull --policy "$WORK/ttsguard.yaml" --name "$NAME" "$WORK/$NAME"
  stored=$(ls "$("$TG" path --policy "$WORK/ttsguard.yaml" "$NAME")")
  echo "stored: $stored"
  case "$stored" in *checkpoint_10*|*tfevents*|*trainer_0_log*) echo "files.exclude was not applied"; exit 1;; esac
else
  NAME=$MODEL
  step "pull $MODEL (coqui catalog of the installed package)"
  "$TG" pull --policy "$WORK/ttsguard.yaml" "$MODEL"
fi

if [ "${E2E_ENCRYPT:-}" = 1 ]; then
  step "encrypt the store at rest (a fresh age key; store encrypt)"
  go build -o "$WORK/age-keygen" filippo.io/age/cmd/age-keygen
  (umask 077 && "$WORK/age-keygen" -o "$WORK/store.key" 2>/dev/null)
  RECIPIENT=$("$WORK/age-keygen" -y "$WORK/store.key")
  {
    printf 'store:\n  path: store\n  encryption:\n    recipients: [%s]\n    identity: store.key\n' "$RECIPIENT"
    grep -v '^store:' "$WORK/ttsguard.yaml"
  } >"$WORK/ttsguard.yaml.enc"
  mv "$WORK/ttsguard.yaml.enc" "$WORK/ttsguard.yaml"
  chmod 644 "$WORK/ttsguard.yaml"
  PLAIN_DIR=$("$TG" path --policy "$WORK/ttsguard.yaml" "$NAME") # still plaintext: path works
  # The longest line of its config (a line: grep matches lines); it must be found in the plaintext first.
  MARKER=$(awk 'length > length(m) { m = $0 } END { print m }' "$PLAIN_DIR/config.json")
  grep -qF -- "$MARKER" "$PLAIN_DIR/config.json" && [ "${#MARKER}" -ge 20 ] || { echo "no usable marker line in config.json"; exit 1; }
  echo "marker: $MARKER"
  "$TG" store encrypt --policy "$WORK/ttsguard.yaml"
  if [ "${E2E_OFFLINE:-}" = 1 ]; then rm -rf "${WORK:?}/$NAME"; fi # the source folder: plaintext outside the store
  if grep -rlF -- "$MARKER" "$WORK/store"; then echo "the model's config is still in plaintext in the store"; exit 1; fi
  if "$TG" path --policy "$WORK/ttsguard.yaml" "$NAME" 2>"$WORK/path.err"; then echo "path gave a path to an encrypted model"; exit 1; fi
  cat "$WORK/path.err"
  "$TG" check --policy "$WORK/ttsguard.yaml" "$NAME"
  if [ -n "$RUN_AS" ]; then
    step "user $RUN_AS: a server of the access section (doctor --fix opens the store to it) with its own copy of the identity"
    printf 'access:\n  servers: [user:%s]\n' "$RUN_AS" >>"$WORK/ttsguard.yaml"
    "$TG" doctor --fix --policy "$WORK/ttsguard.yaml"
    install -m 600 -o "$RUN_AS" -g "$RUN_AS" "$WORK/store.key" "$WORK/user.key"
    sed -i 's/identity: store.key/identity: user.key/' "$WORK/ttsguard.yaml"
  fi
fi

# No chgrp: as root, the store is created ready for its serving group (nogroup), and `run` switches to a
# fresh user id of that group. `doctor` must find nothing to fix.
if [ -z "$RUN_AS" ]; then # (with E2E_RUN_AS, doctor flags the identity the server owns)
  step "doctor"
  "$TG" doctor --policy "$WORK/ttsguard.yaml"
fi

step "the sandbox"
"${AS[@]}" "$TG" run --policy "$WORK/ttsguard.yaml" --explain "$NAME" --tts-server --host 127.0.0.1 --port "$PORT" | tee "$WORK/explain.txt"

step "start tts-server in the sandbox"
cd / # run refuses a model name that is also a folder of the working folder
"${AS[@]}" "$TG" run --policy "$WORK/ttsguard.yaml" "$NAME" --tts-server --host 127.0.0.1 --port "$PORT" -- --show_details >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; echo "tts-server exited"; exit 1; }
  sleep 1
done

step "synthesize"
curl -fsS -G --data-urlencode "text=Hello from inside the sandbox." -o "$WORK/out.wav" "http://127.0.0.1:$PORT/api/tts"
head -c 4 "$WORK/out.wav" | grep -q RIFF || { echo "not a WAV"; exit 1; }
ls -l "$WORK/out.wav"

step "stop it (SIGTERM is forwarded)"
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
echo "ttsguard run exited with $rc"
tail -n 20 "$WORK/server.log"
[ "$rc" = 0 ] || { echo "a forwarded SIGTERM must be a clean stop (exit 0), got $rc"; exit 1; }

step "command-line synthesis into --output (tts --out_path)"
MODEL_FILE=$("${AS[@]}" "$TG" run --policy "$WORK/ttsguard.yaml" --explain --json "$NAME" --tts-server | "$VENV/bin/python" -c '
import json, sys
a = json.load(sys.stdin)["tts_server"]["args"]
print(a[a.index("--model_path") + 1].rsplit("/", 1)[-1])')
"${AS[@]}" "$TG" run --policy "$WORK/ttsguard.yaml" --output "$WORK/cli-out" "$NAME" -- tts --model_path "{model}/$MODEL_FILE" \
  --config_path "{model}/config.json" --text "Hello from the command line." --out_path "{output}/cli.wav" >"$WORK/cli.log" 2>&1 ||
  { cat "$WORK/cli.log"; exit 1; }
head -c 4 "$WORK/cli-out/cli.wav" | grep -q RIFF || { echo "--output: not a WAV"; exit 1; }
[ "$(stat -c %u "$WORK/cli-out/cli.wav")" = "$RUN_UID" ] || { echo "--output: the WAV is not the caller's"; exit 1; }
ls -l "$WORK/cli-out/cli.wav"
if [ "${E2E_ENCRYPT:-}" = 1 ]; then
  step "after the runs: the model's config is in no file under the store or the work folder, no decrypted tmpfs is mounted"
  if grep -rlF -- "$MARKER" "$WORK/store" "$WORK"/*.log; then echo "plaintext found"; exit 1; fi
  if grep -q ttsguard-decrypted /proc/self/mountinfo; then echo "a decrypted tmpfs is in the host's mount table"; exit 1; fi
  if [ -n "$RUN_AS" ]; then
    grep -q "started without root: the model is decrypted into sealed memfds" "$WORK/explain.txt" ||
      { echo "the plan of user $RUN_AS's run is not the memfd view"; exit 1; }
    [ -z "$(ls -A "$WORK/run-tmp")" ] || { ls -la "$WORK/run-tmp"; echo "the runs left files in their TMPDIR"; exit 1; }
    if grep -rlF -- "$MARKER" "$WORK"; then echo "plaintext found under $WORK"; exit 1; fi
  fi
  echo "e2e (encrypted at rest) OK"
  exit 0
fi
step "a Python installation outside /usr (a copy of the base under the work folder) and a venv on it"
# As pyenv, uv, conda or an /opt build leave it: the venv's python links to a base that run must allow
# (its standard library and binary), read from pyvenv.cfg's home.
BASEPY="$VENV/bin/python" # its base is one the serving user reaches (the server step ran on it)
PYBASE=$("$BASEPY" -c 'import sys; print(sys.base_prefix)')
PYVER=$("$BASEPY" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
mkdir -p "$WORK/opt-python/bin" "$WORK/opt-python/lib"
cp "$(readlink -f "$BASEPY")" "$WORK/opt-python/bin/$PYVER"
cp -a "$PYBASE/lib/$PYVER" "$WORK/opt-python/lib/"
cp -a "$PYBASE"/lib/libpython* "$WORK/opt-python/lib/" 2>/dev/null || true # a shared libpython, where the base has one
chmod -R a+rX "$WORK/opt-python"
"$WORK/opt-python/bin/$PYVER" -m venv --without-pip "$WORK/opt-venv"
"$TG" run --policy "$WORK/ttsguard.yaml" "$NAME" -- "$WORK/opt-venv/bin/python" -c \
  'import sys, json, ssl, decimal; print("base prefix", sys.base_prefix)' | tee "$WORK/opt-run.log"
grep -qx "base prefix $WORK/opt-python" "$WORK/opt-run.log" || { echo "the venv on a Python outside /usr did not run"; exit 1; }
step "a base the serving user cannot traverse (/root) is refused, naming the folder and the fix"
ROOTPY=$(mktemp -d /root/ttsguard-e2e-py-XXXXXX)
cp -a "$WORK/opt-python" "$ROOTPY/"
"$ROOTPY/opt-python/bin/$PYVER" -m venv --without-pip "$WORK/root-venv"
rc=0
"$TG" run --policy "$WORK/ttsguard.yaml" "$NAME" -- "$WORK/root-venv/bin/python" -c 'print(1)' 2>"$WORK/root-run.log" || rc=$?
rm -rf "$ROOTPY"
cat "$WORK/root-run.log"
[ "$rc" != 0 ] && grep -q "the folder /root on its way is not traversable" "$WORK/root-run.log" ||
  { echo "want a refusal naming /root (rc $rc)"; exit 1; }

step "a Hugging Face repository (hf://) with a requirement, from a loopback fake of the Hub"
# The real Hub is out of reach here: scripts/fakehub serves the stored model and a tokenizer-like
# repository with the Hub's API and resolve shapes over TLS; ttsguard finds it through HF_ENDPOINT and
# trusts it through SSL_CERT_FILE. In the sandbox, the real huggingface_hub must find the requirement
# in the read-only cache that run builds, offline.
mkdir -p "$WORK/hub-tok"
printf '[PAD]\n[UNK]\nhello\n' >"$WORK/hub-tok/vocab.txt"
echo '{"model_type": "bert"}' >"$WORK/hub-tok/config.json"
"$WORK/fakehub" --ca "$WORK/hub-ca.pem" --repo "e2e/vits=$("$TG" path --policy "$WORK/ttsguard.yaml" "$NAME")" \
  --repo "e2e/tokenizer=$WORK/hub-tok" >"$WORK/hub.url" 2>"$WORK/hub.log" &
HUB_PID=$!
for _ in $(seq 1 50); do [ -f "$WORK/hub.url" ] && [ "$(wc -l <"$WORK/hub.url")" = 2 ] && break; sleep 0.2; done
HUB=$(sed -n 1p "$WORK/hub.url")
CDN=$(sed -n 2p "$WORK/hub.url")
mkdir -p "$WORK/hub" # a policy of its own, on the same store; its lock file is $WORK/hub/ttsguard.lock
cat >"$WORK/hub/ttsguard.yaml" <<EOF
version: 1
store: $WORK/store
sources: ["$HUB/", "$CDN/"]
models:
  e2e-hub-vits:
    requires:
      - source: hf://e2e/tokenizer
        load_as: e2e/tokenizer
EOF
HF_ENDPOINT=$HUB SSL_CERT_FILE="$WORK/hub-ca.pem" "$TG" pull --policy "$WORK/hub/ttsguard.yaml" --name e2e-hub-vits hf://e2e/vits
grep -q 'commit' "$WORK/hub/ttsguard.lock" || { echo "the lock file pins no commit"; exit 1; }
"$TG" check --policy "$WORK/hub/ttsguard.yaml" e2e-hub-vits
"$TG" run --policy "$WORK/hub/ttsguard.yaml" e2e-hub-vits -- "$VENV/bin/python" -c '
import os
from huggingface_hub import snapshot_download
p = snapshot_download("e2e/tokenizer")  # offline: run sets HF_HUB_OFFLINE and a read-only cache
assert os.environ["HF_HUB_OFFLINE"] == "1", os.environ.get("HF_HUB_OFFLINE")
print("requirement from the cache:", p, open(os.path.join(p, "vocab.txt")).read().split())
' | tee "$WORK/hub-run.log"
grep -q "requirement from the cache" "$WORK/hub-run.log" || { echo "huggingface_hub did not find the requirement"; exit 1; }

step "a coqui catalog entry that names a Hugging Face repository (repo_id, allow), from the same fake Hub"
cat >"$WORK/hub/catalog.json" <<EOF
{"tts_models": {"en": {"e2e": {"hub-vits": {"description": "the e2e model, by repo_id as coqui 0.28 names XTTS v2",
  "repo_id": "e2e/vits", "allow": ["*.pth", "config.json"], "default_vocoder": null, "license": "apache 2.0"}}}}}
EOF
HF_ENDPOINT=$HUB SSL_CERT_FILE="$WORK/hub-ca.pem" "$TG" pull --policy "$WORK/hub/ttsguard.yaml" --catalog "$WORK/hub/catalog.json" tts_models/en/e2e/hub-vits
"$TG" run --policy "$WORK/hub/ttsguard.yaml" --explain tts_models/en/e2e/hub-vits --tts-server >/dev/null
kill "$HUB_PID"
HUB_PID=

echo "e2e OK"
