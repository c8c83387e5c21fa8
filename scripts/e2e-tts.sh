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
#
#   scripts/e2e-tts.sh [MODEL_ID]      default tts_models/en/ljspeech/vits
# Environment: E2E_OFFLINE=1, E2E_PORT (default 5002), E2E_KEEP=1 (keep the work folder),
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
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  if [ "${E2E_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "build ttsguard (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -o "$WORK/ttsguard" ./cmd/ttsguard
TG="$WORK/ttsguard"
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

# No chgrp: as root, the store is created ready for its serving group (nogroup), and `run` switches to a
# fresh user id of that group. `doctor` must find nothing to fix.
step "doctor"
"$TG" doctor --policy "$WORK/ttsguard.yaml"

step "the sandbox"
"$TG" run --policy "$WORK/ttsguard.yaml" --explain "$NAME" --tts-server --host 127.0.0.1 --port "$PORT"

step "start tts-server in the sandbox"
cd / # run refuses a model name that is also a folder of the working folder
"$TG" run --policy "$WORK/ttsguard.yaml" "$NAME" --tts-server --host 127.0.0.1 --port "$PORT" -- --show_details >"$WORK/server.log" 2>&1 &
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
MODEL_FILE=$("$TG" run --policy "$WORK/ttsguard.yaml" --explain --json "$NAME" --tts-server | "$VENV/bin/python" -c '
import json, sys
a = json.load(sys.stdin)["tts_server"]["args"]
print(a[a.index("--model_path") + 1].rsplit("/", 1)[-1])')
"$TG" run --policy "$WORK/ttsguard.yaml" --output "$WORK/cli-out" "$NAME" -- tts --model_path "{model}/$MODEL_FILE" \
  --config_path "{model}/config.json" --text "Hello from the command line." --out_path "{output}/cli.wav" >"$WORK/cli.log" 2>&1 ||
  { cat "$WORK/cli.log"; exit 1; }
head -c 4 "$WORK/cli-out/cli.wav" | grep -q RIFF || { echo "--output: not a WAV"; exit 1; }
[ "$(stat -c %u "$WORK/cli-out/cli.wav")" = "$(id -u)" ] || { echo "--output: the WAV is not the caller's"; exit 1; }
ls -l "$WORK/cli-out/cli.wav"
echo "e2e OK"
