#!/usr/bin/env bash
# End to end training provenance (outside CI; issue 11): a REAL coqui training run under ttsguard train.
#   1. a dataset of espeak-ng clips in LJSpeech layout, a tiny GlowTTS config written by coqui's own classes
#   2. ttsguard train ... -- python -m TTS.bin.train_tts --config_path {config}  (1 epoch, CPU, in the sandbox)
#   3. verify provenance (the dataset root it names is `ttsguard digest` of the dataset), model.sig
#      with verify key (and with the reference model_signing when E2E_MODEL_SIGNING_VENV has it)
#   4. pull the trained model under models.NAME.provenance {required, signers, datasets}; check shows the
#      gate; an unapproved dataset root fails it; ttsguard run synthesizes a WAV from the trained model
#   5. a read of an undeclared file inside train fails; poisoning the dataset afterwards fails audit --dataset
# Run as root (the sandbox switches to a fresh serving user). Needs espeak-ng (apt-get install espeak-ng) and a
# virtual environment with coqui-tts 0.28 readable by the serving user (default /opt/e2e-venv). No network.
#
# Environment: E2E_VENV (default /opt/e2e-venv), E2E_KEEP=1 (keep the work folder),
# E2E_MODEL_SIGNING_VENV (a venv with model_signing 1.1.1: also verify model.sig with it).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
VENV=${E2E_VENV:-/opt/e2e-venv}
command -v espeak-ng >/dev/null || { echo "needs espeak-ng: apt-get install -y espeak-ng"; exit 2; }
"$VENV/bin/python" -c 'import TTS' || { echo "needs coqui-tts in $VENV"; exit 2; }

WORK=$(mktemp -d /tmp/ttsguard-e2e-train-XXXXXX)
chmod 755 "$WORK" # the serving user must reach the dataset, the config and --out's parent
cleanup() { if [ "${E2E_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
T0=$(date +%s)
step() { printf '\n== [%3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
fail() { echo "FAIL: $*"; exit 1; }

step "build ttsguard (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -o "$WORK/ttsguard" ./cmd/ttsguard
TG="$WORK/ttsguard"
"$TG" keygen --out "$WORK/trainer" >/dev/null

step "dataset: 8 espeak-ng clips, LJSpeech layout"
DS="$WORK/ljs"
mkdir -p "$DS/wavs"
i=0
while read -r line; do
  i=$((i + 1))
  id=$(printf 'clip%02d' "$i")
  espeak-ng -w "$DS/wavs/$id.wav" "$line"
  echo "$id|$line|$line" >>"$DS/metadata.csv"
done <<'EOF'
The quick brown fox jumps over the lazy dog.
A model is only as trustworthy as its data.
Signatures say who vouches for a model.
Provenance says what it was made from.
Every clip here was spoken by a machine.
Training runs in a sandbox with no network.
The config names only declared inputs.
Poisoning after training shows in the audit.
EOF
chmod -R a+rX "$DS"
DS_ROOT=$("$TG" digest "$DS")
echo "dataset root $DS_ROOT"

step "config: a tiny GlowTTS (coqui's GlowTTSConfig), 1 epoch, CPU, characters"
cat >"$WORK/genconfig.py" <<'EOF'
import sys
from TTS.config.shared_configs import BaseDatasetConfig
from TTS.tts.configs.glow_tts_config import GlowTTSConfig

ds, out, path = sys.argv[1], sys.argv[2], sys.argv[3]
c = GlowTTSConfig(
    run_name="tiny", batch_size=4, eval_batch_size=2, num_loader_workers=0, num_eval_loader_workers=0,
    run_eval=False, test_delay_epochs=-1, epochs=1, text_cleaner="english_cleaners", use_phonemes=False,
    print_step=1, print_eval=False, mixed_precision=False, output_path=out,
    datasets=[BaseDatasetConfig(formatter="ljspeech", path=ds, meta_file_train="metadata.csv")],
    hidden_channels_enc=32, hidden_channels_dec=32, hidden_channels_dp=32, num_flow_blocks_dec=2, num_block_layers=1,
    save_step=1000, save_n_checkpoints=1, save_best_after=0, test_sentences=[], eval_split_size=0.25,
    data_dep_init_steps=0, dashboard_logger="tensorboard",
)
c.encoder_params["num_layers"] = 1
c.encoder_params["hidden_channels_ffn"] = 32
c.save_json(path)
EOF
OUT="$WORK/out"
"$VENV/bin/python" "$WORK/genconfig.py" "$DS" "$OUT" "$WORK/config.json"
chmod 644 "$WORK/config.json"

cat >"$WORK/ttsguard.yaml" <<EOF
version: 1
store: $WORK/store
sources: []
signers:
  - {name: trainer, public_key: $WORK/trainer.pub}
models:
  my-voice:
    provenance: {required: true, signers: [trainer], datasets: ["$DS_ROOT"]}
  wrong-data:
    provenance: {datasets: ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}
EOF
P=(--policy "$WORK/ttsguard.yaml")

step "a config path outside the declared inputs stops the run before it starts"
sed "s#\"test_sentences_file\": \"\"#\"test_sentences_file\": \"$WORK/secret.txt\"#" "$WORK/config.json" >"$WORK/bad.json"
echo secret >"$WORK/secret.txt"
chmod 644 "$WORK/bad.json" "$WORK/secret.txt"
set +e
"$TG" train "${P[@]}" --dataset "$DS" --config "$WORK/bad.json" --out "$WORK/out-bad" --private-key "$WORK/trainer.key" \
  -- "$VENV/bin/python" -m TTS.bin.train_tts --config_path '{config}' >"$WORK/bad.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'test_sentences_file: .* is outside the declared inputs' "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "config audit: exit $rc"; }
[ ! -e "$WORK/out-bad" ] || fail "--out created by a refused run"
grep 'training config refused' "$WORK/bad.log"

step "ttsguard train -- python -m TTS.bin.train_tts (the real coqui trainer, in the sandbox)"
t1=$(date +%s)
"$TG" train "${P[@]}" --dataset "$DS" --config "$WORK/config.json" --out "$OUT" --private-key "$WORK/trainer.key" \
  -- "$VENV/bin/python" -m TTS.bin.train_tts --config_path '{config}' >"$WORK/train.out" 2>"$WORK/train.log" ||
  { tail -40 "$WORK/train.log"; fail "train"; }
echo "training run: $(($(date +%s) - t1)) s"
grep -E 'loss:' "$WORK/train.log" | tail -2
cat "$WORK/train.out"
RUN=$(cd "$OUT" && ls -d tiny-*)
ls -la "$OUT" "$OUT/$RUN"
[ -f "$OUT/$RUN/best_model.pth" ] || fail "no checkpoint"

step "verify provenance and model.sig"
"$TG" verify provenance --public-key "$WORK/trainer.pub" "$OUT"
"$TG" verify provenance --json --public-key "$WORK/trainer.pub" "$OUT" >"$WORK/prov.json"
"$VENV/bin/python" - "$WORK/prov.json" "$DS_ROOT" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
lin = r["lineage"]
assert r["ok"], r
assert [d["root"] for d in lin["datasets"]] == [sys.argv[2]], lin["datasets"]
dists = {d["name"]: d for d in lin["python"]["distributions"]}
assert dists["coqui-tts"]["version"] == "0.28.0" and dists["coqui-tts"].get("record_sha256"), dists.get("coqui-tts")
assert "torch" in dists, sorted(dists)
assert lin["command"][1:3] == ["-m", "TTS.bin.train_tts"], lin["command"]
print("lineage: dataset root matches; %d python distributions (coqui-tts 0.28.0, torch %s); %d model files"
      % (len(dists), dists["torch"]["version"], len(lin["subjects"])))
EOF
"$TG" verify key --public-key "$WORK/trainer.pub" "$OUT"
if [ -n "${E2E_MODEL_SIGNING_VENV:-}" ]; then
  step "the reference model_signing verifies model.sig of the trained model"
  "$E2E_MODEL_SIGNING_VENV/bin/model_signing" verify key --signature "$OUT/model.sig" --public_key "$WORK/trainer.pub" \
    --ignore-paths "$OUT/provenance.sig" "$OUT"
fi

step "tampering a model file fails verify provenance"
cp -a "$OUT" "$WORK/out-tampered"
echo '{}' >"$WORK/out-tampered/$RUN/config.json"
if "$TG" verify provenance --public-key "$WORK/trainer.pub" "$WORK/out-tampered" >"$WORK/tamper.log" 2>&1; then fail "tampered model verified"; fi
grep -E 'changed:|FAILED' "$WORK/tamper.log"

step "pull under models.my-voice.provenance, check, and an unapproved dataset root"
"$TG" pull "${P[@]}" --name my-voice "$OUT"
"$TG" check "${P[@]}" my-voice | tee "$WORK/check.log"
grep -q 'provenance.*verified: signer "trainer"; trained on dataset ljs '"$DS_ROOT" "$WORK/check.log" || fail "check: no provenance gate"
if "$TG" pull "${P[@]}" --name wrong-data "$OUT" >"$WORK/wrong.log" 2>&1; then fail "pull with an unapproved dataset root passed"; fi
grep 'is not among models\["wrong-data"\].provenance.datasets' "$WORK/wrong.log"

step "ttsguard run: synthesize with the trained model (coqui's tts, Griffin-Lim) in the sandbox"
mkdir -p "$WORK/wav" && chmod 777 "$WORK/wav"
"$TG" run "${P[@]}" --output "$WORK/wav" my-voice -- "$VENV/bin/tts" --model_path "{model}/$RUN/best_model.pth" \
  --config_path "{model}/$RUN/config.json" --text "Hello from a trained model." --out_path '{output}/hello.wav' >"$WORK/run.log" 2>&1 ||
  { tail -30 "$WORK/run.log"; fail "run"; }
head -c 4 "$WORK/wav/hello.wav" | grep -q RIFF || fail "no WAV"
ls -la "$WORK/wav/hello.wav"

step "an undeclared file read inside train fails"
set +e
"$TG" train "${P[@]}" --dataset "$DS" --out "$WORK/out-read" --private-key "$WORK/trainer.key" \
  -- "$VENV/bin/python" -c "open('$WORK/secret.txt').read()" >"$WORK/read.log" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] && grep -q 'PermissionError' "$WORK/read.log" || { cat "$WORK/read.log"; fail "undeclared read: exit $rc"; }
grep PermissionError "$WORK/read.log"
[ ! -e "$WORK/out-read/provenance.sig" ] || fail "provenance written after a failed run"

step "poisoning the dataset after training fails audit --dataset"
"$TG" audit "${P[@]}" --dataset "$DS" >"$WORK/audit1.log" 2>&1 || true
grep -q 'as my-voice were trained on it' "$WORK/audit1.log" || { cat "$WORK/audit1.log"; fail "audit before"; }
grep '^dataset' "$WORK/audit1.log"
sed -i 's/The quick brown fox jumps over the lazy dog./Buy now at example dot com./' "$DS/metadata.csv"
set +e
"$TG" audit "${P[@]}" --dataset "$DS" >"$WORK/audit2.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'gate dataset   FAILED' "$WORK/audit2.log" || { cat "$WORK/audit2.log"; fail "audit after poisoning: exit $rc"; }
grep -E '^dataset|gate dataset' "$WORK/audit2.log"

step "PASS ($(($(date +%s) - T0)) s in all)"
