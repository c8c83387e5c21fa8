#!/usr/bin/env bash
# scripts/bench-scan.sh — the checkpoint scanner side by side with picklescan,
# modelscan and fickling on the scanner corpus, the 2 GiB checkpoint check, and
# the pickle decoder's speed (issue 3, "Speed and memory").
#
# Usage: scripts/bench-scan.sh > report.md 2> bench-scan.log
# Prints a markdown report on stdout; progress goes to stderr.
#
# Environment (all optional):
#   BENCH_SCAN_DIR        work folder: the 2 GiB checkpoint (made once, reused), reports
#                         and per-file details                       (default /tmp/bench-scan)
#   BENCH_SCAN_VENV       venv with the pinned peers (reused while the pins are unchanged)
#                                                                    (default $BENCH_SCAN_DIR/venv)
#   BENCH_SCAN_PYTHON     interpreter that creates the venv          (default python3)
#   BENCH_SCAN_RUNS       timed runs of ttsguard, best kept          (default 5)
#   BENCH_SCAN_TIMEOUT    seconds one tool may take on one file      (default 120)
#   BENCH_SCAN_QUIET_WAIT before each timed ttsguard run (and each pickle benchmark run), wait
#                         up to this many seconds for the machine to be idle (< 0.15 cores busy);
#                         the busy cores seen are reported                   (default 60)
#   BENCH_SCAN_NO_BUILD=1 use bin/ttsguard as it is, do not run `make build`
#   BENCH_SCAN_SKIP_BIG=1 skip the 2 GiB checkpoint
#   BENCH_SCAN_SKIP_PEERS=a,b  peers not to run (picklescan, picklescan --strict, modelscan,
#                         fickling-cli, fickling-api)
#
# Peers (exact versions in scripts/bench_scan/constraints.txt), one process per file:
#   picklescan --path F           exit 0/1/2 and its "... FOUND" lines (it has no JSON output);
#                                 also with --strict (globals on neither of its lists are dangerous)
#   modelscan -p F -r json -o X   the JSON report: issues, errors, scanned/skipped
#   fickling --check-safety F     exit 0/1/2 (--json-output for the details)
#   fickling API                  scripts/bench_scan/fickling_scan.py: scan_zip_archive for zips,
#                                 scan_file otherwise (the CLI cannot open a PyTorch zip)
# ttsguard: `ttsguard scan --json F` per file, and once over all files.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/ttsguard
HELP=$ROOT/scripts/bench_scan
CORPUS=$ROOT/internal/scan/testdata/corpus
DIR=${BENCH_SCAN_DIR:-/tmp/bench-scan}
VENV=${BENCH_SCAN_VENV:-$DIR/venv}
PY=${BENCH_SCAN_PYTHON:-python3}
RUNS=${BENCH_SCAN_RUNS:-5}
TIMEOUT=${BENCH_SCAN_TIMEOUT:-120}
QUIET_WAIT=${BENCH_SCAN_QUIET_WAIT:-60}
SKIP=${BENCH_SCAN_SKIP_PEERS:-}
BIG=$DIR/big-2gib.pth
BIG_SIZE_MIN=$((1 << 31))

log() { printf '[bench-scan %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench-scan.sh: error: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null || die "go not found"
command -v "$PY" >/dev/null || die "$PY not found (set BENCH_SCAN_PYTHON)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
mkdir -p "$DIR"

# ---------------------------------------------------------------- build
if [ "${BENCH_SCAN_NO_BUILD:-0}" != 1 ]; then
	log "make build"
	make -s build >&2
fi
[ -x "$BIN" ] || die "$BIN missing (make build)"

# ---------------------------------------------------------------- peers' venv
PINS=$HELP/constraints.txt
STAMP=$VENV/.bench-scan-pins
PEER_STATUS=$VENV/.bench-scan-peers
want=$(sha256sum "$PINS" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
	log "creating venv $VENV (pins: $PINS)"
	rm -rf "$VENV"
	"$PY" -m venv "$VENV"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2 || true
	: >"$PEER_STATUS"
	# One peer at a time, so that one that cannot be installed is recorded and skipped.
	for spec in "picklescan" "modelscan" "fickling typing_extensions"; do
		name=${spec%% *}
		pkgs=()
		for p in $spec; do pkgs+=("$(grep -i "^$p==" "$PINS")"); done
		if "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$PINS" "${pkgs[@]}" >"$DIR/pip-$name.log" 2>&1; then
			echo "$name ok" >>"$PEER_STATUS"
		else
			echo "$name FAILED: $(tail -1 "$DIR/pip-$name.log")" >>"$PEER_STATUS"
			log "pip install $name failed (see $DIR/pip-$name.log)"
		fi
	done
	echo "$want" >"$STAMP"
fi
declare -A PEER_OK=()
while read -r name st _; do [ "$st" = ok ] && PEER_OK[$name]=1; done <"$PEER_STATUS"
[ -n "${PEER_OK[picklescan]:-}" ] || SKIP="$SKIP,picklescan,picklescan --strict"
[ -n "${PEER_OK[modelscan]:-}" ] || SKIP="$SKIP,modelscan"
[ -n "${PEER_OK[fickling]:-}" ] || SKIP="$SKIP,fickling-cli,fickling-api"
SKIP=${SKIP#,}
FREEZE=$("$VENV/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null | tr '\n' ' ')

# ---------------------------------------------------------------- machine
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CORES=$(nproc)
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
GOV=$(go version | cut -d' ' -f3-)
PYV=$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')
REV=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=""
if git status --porcelain 2>/dev/null | grep -q .; then DIRTY=", uncommitted changes"; fi

# ---------------------------------------------------------------- 1. corpus
log "corpus: every file through ttsguard and ${SKIP:+every peer but $SKIP}${SKIP:-all peers}"
"$VENV/bin/python" "$HELP/corpus.py" --ttsguard "$BIN" --venv-bin "$VENV/bin" --corpus "$CORPUS" \
	--runs "$RUNS" --timeout "$TIMEOUT" --quiet-wait "$QUIET_WAIT" --skip "$SKIP" --json "$DIR/corpus.json" >"$DIR/corpus.md"

# ---------------------------------------------------------------- 2. 2 GiB checkpoint
if [ "${BENCH_SCAN_SKIP_BIG:-0}" != 1 ]; then
	if [ ! -f "$BIG" ] || [ "$(stat -c %s "$BIG")" -lt "$BIG_SIZE_MIN" ]; then
		log "writing $BIG (2 GiB, once)"
		"$VENV/bin/python" "$HELP/gen_big_checkpoint.py" "$BIG" 2>&1 | sed 's/^/  /' >&2
	fi
	log "2 GiB checkpoint: ttsguard best of $RUNS, then the peers"
	"$VENV/bin/python" "$HELP/big.py" --ttsguard "$BIN" --venv-bin "$VENV/bin" --file "$BIG" --runs "$RUNS" \
		--timeout $((TIMEOUT * 3)) --quiet-wait "$QUIET_WAIT" --skip "$SKIP" --json "$DIR/big.json" >"$DIR/big.md"
fi

# ---------------------------------------------------------------- 3. pickle decoding speed
log "go test ./internal/scan/pickle -bench ScanPlain (3 runs, each after a quiet wait)"
BENCH_CMD="go test ./internal/scan/pickle -run '^\$' -bench ScanPlain -benchtime 20x"
: >"$DIR/pickle-bench.txt"
BUSY_B=()
for _ in 1 2 3; do
	BUSY_B+=("$("$VENV/bin/python" "$HELP/quiet.py" "$QUIET_WAIT")")
	go test ./internal/scan/pickle -run '^$' -bench ScanPlain -benchtime 20x >>"$DIR/pickle-bench.txt" 2>&1 ||
		{ cat "$DIR/pickle-bench.txt" >&2; die "pickle benchmark failed"; }
done
BLINES=$(grep '^BenchmarkScanPlain' "$DIR/pickle-bench.txt")
MBS_ALL=$(awk '{for (i = 1; i <= NF; i++) if ($i == "MB/s") print $(i-1)}' <<<"$BLINES" | paste -sd' ')
MBS=$(tr ' ' '\n' <<<"$MBS_ALL" | grep . | sort -g | tail -1)
BLINES_IND=""
while IFS= read -r line; do BLINES_IND+="    $line"$'\n'; done <<<"$BLINES"
BLINES_IND=${BLINES_IND%$'\n'}
MBS_OK=$(awk -v v="$MBS" 'BEGIN { print (v >= 200) ? "met" : "NOT met" }')

# ---------------------------------------------------------------- report
cat <<REPORT
Machine: $CPU, $CORES cores, $MEM RAM; $GOV; Python $PYV. Date: $(date -u '+%Y-%m-%d %H:%M UTC'). ttsguard at $REV$DIRTY.
Command: \`scripts/bench-scan.sh\` (BENCH_SCAN_RUNS=$RUNS, BENCH_SCAN_TIMEOUT=$TIMEOUT).
Peers installed (pip, base packages): $(tr '\n' ';' <"$PEER_STATUS" | sed 's/;$//; s/;/; /g'). Venv: $FREEZE

### Verdicts on the corpus

Each tool scans each file of \`internal/scan/testdata/corpus/{benign,malicious}\` in its own process.
Per file: **caught** (malicious, reported dangerous; for an expected-unscannable file also "could not scan"),
**missed** (malicious, reported clean or not examined), **false positive** (benign, reported dangerous),
*error* (could not scan: parse error, crash, timeout; for ttsguard: "unscannable" without a finding),
ok-clean (benign, reported clean or not examined). modelscan's "no scanner for this format" counts as not examined.

$(cat "$DIR/corpus.md")

### 2 GiB PyTorch zip checkpoint

\`scripts/bench_scan/gen_big_checkpoint.py\` writes it without torch (ZIP_STORED, allowZip64, 64-byte aligned records),
\`data.pkl\` made by Python's pickle from stand-ins named like torch's classes, so its opcodes are those of
\`torch.save({"weight": torch.empty(16384, 32768)})\`. Timed: \`bin/ttsguard scan FILE\`; peak RSS: \`/usr/bin/time -v bin/ttsguard scan FILE\`.

$(if [ -f "$DIR/big.md" ] && [ "${BENCH_SCAN_SKIP_BIG:-0}" != 1 ]; then cat "$DIR/big.md"; else echo "(skipped)"; fi)

### Pickle decoding speed

\`$BENCH_CMD\`, run 3 times (a ~24 MB plain-data pickle: floats, ints, short strings in lists;
busy cores before each run: ${BUSY_B[*]}):

$BLINES_IND

Goal ≥ 200 MB/s: **$MBS_OK** (best $MBS MB/s; runs: $MBS_ALL).
REPORT
log "done; details in $DIR/corpus.json, $DIR/big.json"
