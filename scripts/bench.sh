#!/usr/bin/env bash
# scripts/bench.sh — verify throughput, memory and startup of ttsguard against this
# machine's SHA-256 limit, coreutils sha256sum and the reference model_signing.
#
# Usage: scripts/bench.sh            (or: make bench)
# Prints a markdown report on stdout; progress goes to stderr, e.g.
#   scripts/bench.sh > /tmp/bench/report.md 2> /tmp/bench/bench.log
#
# Environment (all optional):
#   BENCH_DIR            model folder, created once and reused   (default /tmp/bench/model)
#   BENCH_VENV           venv for the reference model_signing     (default /tmp/bench/venv)
#   BENCH_SPEED_SECONDS  seconds per `openssl speed` run           (default 5)
#   BENCH_RUNS           timed runs per ttsguard/sha256sum case   (default 3, best is kept)
#   BENCH_REF_RUNS       timed runs of the reference verify        (default 3)
#   BENCH_QUIET_WAIT     before each timed run, wait up to this many seconds for the
#                        machine to be idle (< 0.15 cores busy)  (default 60)
#   BENCH_SHARD_SIZE     --shard-size for the shards-mode signature (default: ttsguard's)
#   BENCH_SKIP_REF=1     skip the reference model_signing
#   BENCH_NO_BUILD=1     use bin/ttsguard as it is, do not run `make build`
#
# The model: one 3 GiB file plus 20 small files, 4 GiB (4294967296 bytes) in all,
# pseudo-random content (AES-CTR keystream). It must fit in the page cache (RAM > ~6 GiB);
# it is read once (cat > /dev/null) before anything is timed, so the numbers are CPU-bound.
# Signatures and keys live in a temporary folder that is removed on exit; the model stays.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/ttsguard
BENCH_DIR=${BENCH_DIR:-/tmp/bench/model}
BENCH_VENV=${BENCH_VENV:-/tmp/bench/venv}
SPEED_SECONDS=${BENCH_SPEED_SECONDS:-5}
RUNS=${BENCH_RUNS:-3}
QUIET_WAIT=${BENCH_QUIET_WAIT:-60}
BUSY_NOTE=""
REF_RUNS=${BENCH_REF_RUNS:-3}

GIB=$((1024 * 1024 * 1024))
BIG_SIZE=$((3 * GIB))
NSMALL=20
SMALL_TOTAL=$((1 * GIB))
TOTAL_BYTES=$((BIG_SIZE + SMALL_TOTAL))

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }
need go "install Go (needed for make build and the go version line)"
need make "install make"
need openssl "apt-get install -y openssl"
need sha256sum "install coreutils"
need xargs "install findutils"
need awk "install gawk or mawk"
need python3 "apt-get install -y python3 python3-venv (for the reference model_signing)"
need nproc "install coreutils"
[[ $(date +%N) =~ ^[0-9]+$ ]] || die "date +%N unsupported (need GNU date)"

if [[ ! -x /usr/bin/time ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing GNU time (/usr/bin/time)"
    { apt-get update -qq && apt-get install -y -qq time; } >/dev/null 2>&1 || true
  fi
  [[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) missing: apt-get install -y time"
fi
[[ $(/usr/bin/time -v true 2>&1) == *'Maximum resident set size'* ]] \
  || die "/usr/bin/time is not GNU time (no -v 'Maximum resident set size')"

if ! command -v hyperfine >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  log "trying to install hyperfine from apt (falls back to a 50-run loop if that fails)"
  { apt-get update -qq && apt-get install -y -qq hyperfine; } >/dev/null 2>&1 || true
fi

[[ $QUIET_WAIT =~ ^[0-9]+$ ]] || die "BENCH_QUIET_WAIT must be a whole number of seconds"
for v in SPEED_SECONDS RUNS REF_RUNS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
if [[ -n ${BENCH_SHARD_SIZE:-} && ! $BENCH_SHARD_SIZE =~ ^[1-9][0-9]*$ ]]; then
  die "BENCH_SHARD_SIZE must be a positive integer"
fi

mem_kib=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)
(( mem_kib > 6 * 1024 * 1024 )) || die "need > 6 GiB RAM to keep the 4 GiB model in page cache (have $((mem_kib / 1024)) MiB)"

NPROC=$(nproc)

if [[ -z ${BENCH_NO_BUILD:-} ]]; then
  log "make build"
  make -s build >&2 || die "make build failed"
fi
[[ -x $BIN ]] || die "$BIN missing: run make build"

mkdir -p /tmp/bench
TMP=$(mktemp -d /tmp/bench/run.XXXXXX)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- model
small_size() { # $1: index 1..NSMALL; the remainder goes to the first files
  local base=$((SMALL_TOTAL / NSMALL)) rem=$((SMALL_TOTAL % NSMALL))
  echo $((base + ($1 <= rem ? 1 : 0)))
}
model_files=("$BENCH_DIR/weights-3GiB.bin")
model_sizes=("$BIG_SIZE")
for i in $(seq 1 $NSMALL); do
  model_files+=("$BENCH_DIR/$(printf 'part-%02d.bin' "$i")")
  model_sizes+=("$(small_size "$i")")
done

gen_file() { # $1 path, $2 size, $3 seed: AES-128-CTR keystream, ~1-2 GB/s
  local iv
  iv=$(printf '%032x' "$3")
  # head closes the pipe, openssl dies of SIGPIPE: the size check below is what counts.
  { openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv "$iv" \
      -in /dev/zero 2>/dev/null | head -c "$2" > "$1.tmp"; } || true
  [[ $(stat -c %s "$1.tmp") -eq $2 ]] || die "could not write $2 bytes to $1.tmp"
  mv "$1.tmp" "$1"
}

mkdir -p "$BENCH_DIR"
extra=$(find "$BENCH_DIR" -mindepth 1 | sort | while read -r p; do
  known=0
  for f in "${model_files[@]}"; do [[ $p == "$f" ]] && known=1; done
  [[ $known -eq 1 ]] || echo "$p"
done)
[[ -z $extra ]] || die "$BENCH_DIR holds files that are not part of the bench model (remove them or the folder): $(echo "$extra" | head -3 | tr '\n' ' ')"
created=0
for idx in "${!model_files[@]}"; do
  f=${model_files[$idx]} n=${model_sizes[$idx]}
  if [[ -f $f && $(stat -c %s "$f") -eq $n ]]; then continue; fi
  log "creating $f ($n bytes)"
  gen_file "$f" "$n" "$((idx + 1))"
  created=1
done
sum=0; for n in "${model_sizes[@]}"; do sum=$((sum + n)); done
(( sum == TOTAL_BYTES )) || die "internal: model sizes add up to $sum, not $TOTAL_BYTES"
log "model: $BENCH_DIR, ${#model_files[@]} files, $TOTAL_BYTES bytes ($([[ $created -eq 1 ]] && echo created || echo reused))"

# resident: percentage of the model in page cache (fincore, util-linux), or empty.
resident() {
  command -v fincore >/dev/null 2>&1 || return 0
  fincore -b -n -o RES "${model_files[@]}" 2>/dev/null \
    | awk -v t="$TOTAL_BYTES" '{s += $1} END {printf "%.1f", 100 * s / t}' || true
}
# warm_cache: read the whole model. Some kernels (e.g. DAMON "pageout" schemes) evict cold
# page-cache pages within minutes, so this runs again before every timed run.
MIN_CACHED=""
warm_cache() {
  local r
  cat "${model_files[@]}" > /dev/null
  r=$(resident)
  if [[ -n $r ]] && { [[ -z $MIN_CACHED ]] || awk -v a="$r" -v b="$MIN_CACHED" 'BEGIN {exit !(a < b)}'; }; then
    MIN_CACHED=$r
  fi
}
log "warming the page cache"
warm_cache
log "resident in page cache: ${MIN_CACHED:-n/a}%"

# ---------------------------------------------------------------- helpers
fmt() { awk -v x="$1" -v p="${2:-2}" 'BEGIN {printf "%.*f", p, x}'; }
calc() { awk "BEGIN {print $*}"; }

HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
# cpu_ticks: busy (user nice system irq softirq) + steal ticks of all CPUs, from /proc/stat.
cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# wait_quiet: other agents/processes on a shared machine skew the wall clock. Wait up to
# QUIET_WAIT seconds for a 1-second window in which the machine uses < 0.15 cores.
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) a b
  while :; do
    a=$(cpu_ticks); sleep 1; b=$(cpu_ticks)
    if awk -v d="$((b - a))" -v hz="$HZ" 'BEGIN {exit !(d / hz < 0.15)}'; then return 0; fi
    if ((SECONDS >= deadline)); then
      log "  machine still busy ($(calc "($b - $a) / $HZ") cores used by others); timing anyway"
      return 0
    fi
  done
}

# measure RUNS CMD...: runs CMD RUNS times under /usr/bin/time -v (stdout+stderr to a log;
# a failing run aborts the bench). Sets M_WALL (best wall clock, s), M_USER/M_SYS (CPU seconds
# of that best run), M_BG (CPU used by everything else, incl. hypervisor steal, during that
# run, in cores), M_RSS_KIB (largest peak RSS over the runs), M_ALL (all walls).
measure() {
  local runs=$1; shift
  local r t0 t1 c0 c1 wall user sys rss bg
  M_WALL="" M_USER="" M_SYS="" M_BG="" M_RSS_KIB=0 M_ALL=""
  for ((r = 1; r <= runs; r++)); do
    warm_cache
    wait_quiet
    c0=$(cpu_ticks)
    t0=$(date +%s%N)
    if ! /usr/bin/time -v -o "$TMP/time.txt" "$@" > "$TMP/cmd.log" 2>&1; then
      tail -20 "$TMP/cmd.log" >&2
      die "command failed: $*"
    fi
    t1=$(date +%s%N)
    c1=$(cpu_ticks)
    wall=$(calc "($t1 - $t0) / 1e9")
    user=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$TMP/time.txt")
    sys=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$TMP/time.txt")
    bg=$(calc "(($c1 - $c0) / $HZ - $user - $sys) / $wall")
    bg=$(calc "($bg < 0) ? 0 : $bg")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time.txt")
    M_ALL+="$(fmt "$wall" 3) "
    (( rss > M_RSS_KIB )) && M_RSS_KIB=$rss
    if [[ -z $M_WALL ]] || awk -v a="$wall" -v b="$M_WALL" 'BEGIN {exit !(a < b)}'; then
      M_WALL=$wall M_USER=$user M_SYS=$sys M_BG=$bg
    fi
  done
  M_ALL=${M_ALL% }
}

ROWS=()
# row NAME: appends a table row from the last measure()
row() {
  local name=$1 gbps ratio util rss
  gbps=$(calc "$TOTAL_BYTES / $M_WALL / 1e9")
  ratio=$(calc "$gbps / $LIMIT_GBPS")
  util=$(calc "($M_USER + $M_SYS) / $M_WALL")
  rss=$(calc "$M_RSS_KIB / 1024")
  ROWS+=("| $name | $(fmt "$M_WALL" 3) | $(fmt "$gbps" 2) | $(fmt "$ratio" 2) | $(fmt "$M_USER" 2) + $(fmt "$M_SYS" 2) | $(fmt "$util" 2) | $(fmt "$M_BG" 2) | $(fmt "$rss" 1) | $M_ALL |")
  eval "R_${2}_GBPS=$gbps R_${2}_RATIO=$ratio R_${2}_RSS=$rss R_${2}_UTIL=$util R_${2}_BG=$M_BG"
  awk -v b="$M_BG" 'BEGIN {exit !(b > 0.1)}' && BUSY_NOTE=1
  return 0
}

# ---------------------------------------------------------------- 1. SHA-256 limit
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "openssl speed sha256, one core, ${SPEED_SECONDS}s"
wait_quiet
single_bps=$(openssl speed -mr -evp sha256 -bytes 1048576 -seconds "$SPEED_SECONDS" 2>/dev/null \
  | awk -F: '/^\+F:/ {print $4}' | tail -1)
[[ -n $single_bps ]] || die "could not parse 'openssl speed -mr -evp sha256' output"
log "openssl speed -multi $NPROC sha256, ${SPEED_SECONDS}s"
wait_quiet
multi_kbps=$(openssl speed -multi "$NPROC" -evp sha256 -bytes 1048576 -seconds "$SPEED_SECONDS" 2>/dev/null \
  | awk '$1 == "sha256" && $2 ~ /k$/ {sub(/k$/, "", $2); print $2}' | tail -1)
[[ -n $multi_kbps ]] || die "could not parse 'openssl speed -multi' output"
SINGLE_GBPS=$(calc "$single_bps / 1e9")
MULTI_GBPS=$(calc "$multi_kbps * 1000 / 1e9")
LIMIT_GBPS=$(calc "$SINGLE_GBPS * $NPROC")
log "single core $(fmt "$SINGLE_GBPS") GB/s, limit $(fmt "$LIMIT_GBPS") GB/s, multi $(fmt "$MULTI_GBPS") GB/s"

# ---------------------------------------------------------------- 2-4. ttsguard
KEY=$TMP/bench
"$BIN" keygen --out "$KEY" > /dev/null || die "ttsguard keygen failed"
SIG_SHARDS=$TMP/shards.sig
SIG_FILES=$TMP/files.sig
shard_args=(--shards)
[[ -n ${BENCH_SHARD_SIZE:-} ]] && shard_args+=(--shard-size "$BENCH_SHARD_SIZE")
log "ttsguard sign key ${shard_args[*]}"
"$BIN" sign key --private-key "$KEY.key" "${shard_args[@]}" --signature "$SIG_SHARDS" "$BENCH_DIR" > /dev/null \
  || die "ttsguard sign (shards) failed"
log "ttsguard sign key (files)"
"$BIN" sign key --private-key "$KEY.key" --signature "$SIG_FILES" "$BENCH_DIR" > /dev/null \
  || die "ttsguard sign (files) failed"

log "ttsguard verify, shards mode, best of $RUNS"
measure "$RUNS" "$BIN" verify key --public-key "$KEY.pub" --signature "$SIG_SHARDS" "$BENCH_DIR"
row "ttsguard verify, shards mode" SHARDS
log "  ${M_ALL}s"
log "ttsguard verify, shards mode, one lane per worker (TTSGUARD_HASH_LANES=1), best of $RUNS"
measure "$RUNS" env TTSGUARD_HASH_LANES=1 "$BIN" verify key --public-key "$KEY.pub" --signature "$SIG_SHARDS" "$BENCH_DIR"
row "ttsguard verify, shards mode, one lane per worker" SHARDS1
log "  ${M_ALL}s"
log "ttsguard verify, files mode, best of $RUNS"
measure "$RUNS" "$BIN" verify key --public-key "$KEY.pub" --signature "$SIG_FILES" "$BENCH_DIR"
row "ttsguard verify, files mode" FILES
log "  ${M_ALL}s"

# ---------------------------------------------------------------- 5. sha256sum
log "sha256sum, sequential, best of $RUNS"
measure "$RUNS" sha256sum "${model_files[@]}"
row "sha256sum, sequential (1 core)" SUMSEQ
log "  ${M_ALL}s"
log "sha256sum, xargs -P $NPROC, best of $RUNS"
printf '%s\0' "${model_files[@]}" > "$TMP/files0"
measure "$RUNS" xargs -0 -a "$TMP/files0" -P "$NPROC" -n 1 sha256sum --
row "sha256sum, xargs -P $NPROC" SUMPAR
log "  ${M_ALL}s"

# ---------------------------------------------------------------- 6. reference model_signing
REF_NOTE="skipped (BENCH_SKIP_REF=1)"
REF_VERSION=""
if [[ -z ${BENCH_SKIP_REF:-} ]]; then
  MS=$BENCH_VENV/bin/model_signing
  if [[ ! -x $MS ]]; then
    log "creating $BENCH_VENV with model-signing==1.1.1 pyopenssl"
    python3 -m venv "$BENCH_VENV" >&2 \
      || die "python3 -m venv failed (apt-get install -y python3-venv)"
    "$BENCH_VENV/bin/pip" install -q --disable-pip-version-check 'model-signing==1.1.1' pyopenssl >&2 \
      || die "pip install model-signing==1.1.1 pyopenssl failed"
  fi
  [[ -x $MS ]] || die "$MS missing after pip install"
  REF_VERSION=$("$BENCH_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("model-signing"))')
  REF_SIG=$SIG_FILES
  REF_NOTE="verifies ttsguard's files-mode signature"
  if ! "$MS" verify key "$BENCH_DIR" --signature "$REF_SIG" --public_key "$KEY.pub" > "$TMP/ref.log" 2>&1; then
    log "reference rejected ttsguard's files-mode signature (see below); signing with the reference instead"
    tail -5 "$TMP/ref.log" >&2
    openssl ec -in "$KEY.key" -out "$TMP/ref.key" 2>/dev/null || cp "$KEY.key" "$TMP/ref.key"
    REF_SIG=$TMP/ref.sig
    "$MS" sign key "$BENCH_DIR" --private_key "$TMP/ref.key" --signature "$REF_SIG" > "$TMP/ref.log" 2>&1 \
      || { tail -20 "$TMP/ref.log" >&2; die "reference model_signing sign failed"; }
    REF_NOTE="verifies its own files-mode signature (it rejected ttsguard's)"
  fi
  log "model_signing $REF_VERSION verify key, best of $REF_RUNS"
  measure "$REF_RUNS" "$MS" verify key "$BENCH_DIR" --signature "$REF_SIG" --public_key "$KEY.pub"
  row "model_signing $REF_VERSION verify, files mode" REF
  log "  ${M_ALL}s"
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 7. startup
log "startup: ttsguard --version"
STARTUP_TOOL=""
wait_quiet
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine -N --warmup 10 --runs 200 --export-json "$TMP/hf.json" "$BIN --version" > /dev/null 2>&1 \
    || hyperfine --warmup 10 --runs 200 --export-json "$TMP/hf.json" "$BIN --version" > /dev/null 2>&1 \
    || die "hyperfine failed"
  read -r START_MS START_SD < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["mean"]*1e3, r["stddev"]*1e3)' "$TMP/hf.json")
  STARTUP_TOOL="hyperfine $(hyperfine --version | awk '{print $2}'), 200 runs after 10 warm-up, mean ± σ"
  STARTUP_TXT="$(fmt "$START_MS" 2) ± $(fmt "$START_SD" 2) ms"
else
  "$BIN" --version > /dev/null
  t0=$(date +%s%N)
  for ((i = 0; i < 50; i++)); do "$BIN" --version > /dev/null; done
  t1=$(date +%s%N)
  START_MS=$(calc "($t1 - $t0) / 50 / 1e6")
  STARTUP_TOOL="shell loop of 50 runs, total / 50 (hyperfine not available)"
  STARTUP_TXT="$(fmt "$START_MS" 2) ms"
fi
log "startup $STARTUP_TXT"

# ---------------------------------------------------------------- report
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mark() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {ok = (op == ">=") ? a >= b : a <= b; print ok ? "**met**" : "**not met**"}'; }
shard_desc=${BENCH_SHARD_SIZE:-ttsguard default}

cat <<EOF
## Machine

| | |
|---|---|
| CPU | ${cpu_model:-unknown} |
| Cores (nproc) | $NPROC |
| Memory | $((mem_kib / 1024)) MiB |
| Kernel | $(uname -r) |
| Go | $(go version | awk '{print $3, $4}') |
| OpenSSL | $(openssl version | awk '{print $1, $2}') |
| ttsguard | $("$BIN" --version 2>&1 | head -1) |
| Date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| Load average (start → end) | $LOAD_START → $LOAD_END |

## SHA-256 limit

| | GB/s |
|---|---|
| \`openssl speed -evp sha256 -bytes 1048576 -seconds $SPEED_SECONDS\`, one core | $(fmt "$SINGLE_GBPS" 3) |
| **Limit** = one core × $NPROC cores | **$(fmt "$LIMIT_GBPS" 3)** |
| \`openssl speed -multi $NPROC\` (same flags), measured, for reference | $(fmt "$MULTI_GBPS" 3) |

## Verify a 4 GiB model in page cache

Model: \`$BENCH_DIR\`, one 3 GiB file + $NSMALL files of ~51.2 MiB, $TOTAL_BYTES bytes
($(fmt "$(calc "$TOTAL_BYTES / 1e9")" 3) GB), read into the page cache before every timed run (lowest residency then: ${MIN_CACHED:-n/a}%). GB/s = $TOTAL_BYTES bytes / best wall time.
Shards signature made with \`--shards\` (shard size: $shard_desc). Best of $RUNS runs
(reference: best of $REF_RUNS); RSS is the largest peak over the runs. CPU util = (user + sys) / wall.
Background CPU = CPU time used by all other processes (and hypervisor steal) during the best run,
in cores, from /proc/stat: well above 0 means the machine was shared and the wall times are pessimistic.

| Case | Best wall (s) | GB/s | × limit | CPU user + sys (s) | CPU util (cores) | Background CPU (cores) | Peak RSS (MiB) | All runs (s) |
|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${ROWS[@]}")

Reference model_signing: ${REF_VERSION:+model-signing $REF_VERSION, }$REF_NOTE.
$([[ -n $BUSY_NOTE ]] && printf '\n**Warning:** other processes used more than 0.1 cores during at least one best run (see Background CPU); rerun on an idle machine for clean numbers.\n')

## Startup

\`ttsguard --version\`: **$STARTUP_TXT** ($STARTUP_TOOL).

## Goals

| Goal | Measured | Status |
|---|---|---|
| shards-mode verify ≥ 0.85 × SHA-256 limit | $(fmt "$R_SHARDS_RATIO" 2) × ($(fmt "$R_SHARDS_GBPS" 2) of $(fmt "$LIMIT_GBPS" 2) GB/s) | $(mark "$R_SHARDS_RATIO" ">=" 0.85) |
| verify peak RSS ≤ 64 MiB, shards mode | $(fmt "$R_SHARDS_RSS" 1) MiB | $(mark "$R_SHARDS_RSS" "<=" 64) |
| verify peak RSS ≤ 64 MiB, files mode | $(fmt "$R_FILES_RSS" 1) MiB | $(mark "$R_FILES_RSS" "<=" 64) |
| startup (\`--version\`) ≤ 30 ms | $(fmt "$START_MS" 2) ms | $(mark "$START_MS" "<=" 30) |
EOF
log "done (model kept in $BENCH_DIR)"
