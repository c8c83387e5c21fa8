#!/usr/bin/env bash
# scripts/bench-diff.sh — `ttsguard diff` of two 2 GiB checkpoints against a
# read-only baseline measured in the same run (issue 11: diff ≤ 2 × the time
# to read both).
#
# Usage: scripts/bench-diff.sh > report.md 2> bench-diff.log
# Prints a markdown report on stdout; progress goes to stderr.
#
# Both files are read once first, so every timed run reads them from the
# page cache (caches cannot be dropped on a shared machine): the baseline is
# `cat old.pth new.pth > /dev/null`, the diff `ttsguard diff --json old.pth
# new.pth`. Runs alternate; the best of each is compared, medians reported.
#
# Environment (all optional):
#   BENCH_DIFF_DIR      work folder; the checkpoints are made once and reused (default /tmp/bench-diff)
#   BENCH_DIFF_PYTHON   a Python with torch, to make them (default /opt/e2e-venv/bin/python)
#   BENCH_DIFF_GIB      size of each checkpoint in GiB (default 2)
#   BENCH_DIFF_RUNS     timed runs of each (default 5)
#   BENCH_DIFF_NO_BUILD=1  use bin/ttsguard as it is
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/ttsguard
DIR=${BENCH_DIFF_DIR:-/tmp/bench-diff}
PY=${BENCH_DIFF_PYTHON:-/opt/e2e-venv/bin/python}
GIB=${BENCH_DIFF_GIB:-2}
RUNS=${BENCH_DIFF_RUNS:-5}

log() { printf '[bench-diff %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench-diff.sh: error: %s\n' "$*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
command -v python3 >/dev/null || die "python3 not found (it reads the JSON output)"
mkdir -p "$DIR"

if [ "${BENCH_DIFF_NO_BUILD:-0}" != 1 ]; then
	log "make build"
	make -s build >&2
fi
[ -x "$BIN" ] || die "$BIN not found"

OLD=$DIR/old.pth NEW=$DIR/new.pth
want=$(python3 -c "print(int($GIB * (1 << 30)))")
if [ ! -f "$OLD" ] || [ ! -f "$NEW" ] || [ ! -f "$DIR/expected.json" ] || [ "$(stat -c %s "$OLD")" -lt "$want" ]; then
	"$PY" -c 'import torch' 2>/dev/null || die "$PY has no torch (set BENCH_DIFF_PYTHON)"
	log "making two $GIB GiB checkpoints with torch.save (once)"
	"$PY" "$ROOT/scripts/bench_diff/gen.py" "$DIR" "$GIB"
fi

log "reading both once (page cache)"
cat "$OLD" "$NEW" > /dev/null

: > "$DIR/cat.txt"; : > "$DIR/diff.txt"
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS"
	/usr/bin/time -f '%e %M %U %S' -o "$DIR/time.txt" sh -c 'cat "$0" "$1" > /dev/null' "$OLD" "$NEW"
	cat "$DIR/time.txt" >> "$DIR/cat.txt"
	/usr/bin/time -f '%e %M %U %S' -o "$DIR/time.txt" "$BIN" diff --json "$OLD" "$NEW" > "$DIR/diff.json"
	cat "$DIR/time.txt" >> "$DIR/diff.txt"
done

python3 - "$DIR" "$RUNS" "$GIB" "$(nproc)" "$(uptime | sed 's/.*load average: //')" "$("$BIN" --version 2>/dev/null | head -1)" <<'PY'
import json, statistics, sys, platform, os
d, runs, gib, cores, load, version = sys.argv[1:]
def rows(name):
    return [list(map(float, l.split())) for l in open(os.path.join(d, name)) if l.strip()]
cat, diff = rows("cat.txt"), rows("diff.txt")
best = lambda r: min(x[0] for x in r)
med = lambda r: statistics.median(x[0] for x in r)
exp = json.load(open(os.path.join(d, "expected.json")))
out = json.load(open(os.path.join(d, "diff.json")))
got = {t["name"]: t.get("relative") for c in out["checkpoints"] for t in c["tensors"]}
checks = []
for k, v in exp.items():
    ok = got.get(k) is not None and abs(got[k] - v) <= 1e-9 * abs(v)
    checks.append(f"`{k}`: torch {v:.12g}, ttsguard {got.get(k)!r} ({'ok' if ok else 'MISMATCH'})")
n = sum(len(c["tensors"]) for c in out["checkpoints"])
cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip(); break
mem = int(open("/proc/meminfo").readline().split()[1]) // (1 << 20)
ratio = best(diff) / best(cat)
print(f"## diff of two {gib} GiB checkpoints (scripts/bench-diff.sh)\n")
print(f"Machine: {cpu}, {cores} cores, {mem} GiB memory, {platform.system()} {platform.release()}; load average at the end: {load} (a shared machine).")
print(f"ttsguard: {version}. Files: two torch.save zip checkpoints of {gib} GiB of float32 weights; every weight changed ({n} tensors reported).\n")
print("| command | best (s) | median (s) | max RSS (MiB) | user (s) | sys (s) |")
print("|---|---|---|---|---|---|")
for name, r, cmd in [("read both (baseline)", cat, "cat old.pth new.pth > /dev/null"), ("diff", diff, "ttsguard diff --json old.pth new.pth")]:
    b = min(r, key=lambda x: x[0])
    print(f"| {name}: `{cmd}` | {b[0]:.2f} | {med(r):.2f} | {max(x[1] for x in r)/1024:.0f} | {b[2]:.2f} | {b[3]:.2f} |")
print(f"\ndiff / read, best runs: **{ratio:.2f}** (target ≤ 2); medians: {med(diff)/med(cat):.2f}; {runs} runs each, both files in the page cache.\n")
print("Relative changes checked against torch's: " + "; ".join(checks) + ".")
PY
