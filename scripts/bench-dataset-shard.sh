#!/usr/bin/env bash
# scripts/bench-dataset-shard.sh — `dataset audit --shard I/N` and `dataset
# merge` against the unsharded audit, on the corpora scripts/bench-dataset.sh
# makes (run that first: it synthesizes them into $BENCH_DATASET_DIR).
#
# Usage: scripts/bench-dataset-shard.sh > report.md 2> bench-shard.log
#
# For each corpus: the unsharded audit (--json), each of N shards alone, the
# N shards at once (what one machine gains from sharding: nothing, it only
# adds the metadata each shard reads; the gain is N machines), and the merge
# of the shard reports (--json), BENCH_DATASET_RUNS runs each, best and all
# reported, with peak RSS and the size of the shard reports; and a check
# that the merged report's findings and composition equal the unsharded one's.
#
# Environment (all optional):
#   BENCH_DATASET_DIR      the corpora (default /tmp/bench-dataset)
#   BENCH_SHARD_CORPORA    which (default "c60 c120")
#   BENCH_SHARDS           N (default 2)
#   BENCH_DATASET_RUNS     timed runs of each (default 3)
#   BENCH_DATASET_NO_BUILD=1  use bin/ttsguard as it is
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/ttsguard
DIR=${BENCH_DATASET_DIR:-/tmp/bench-dataset}
CORPORA=${BENCH_SHARD_CORPORA:-c60 c120}
N=${BENCH_SHARDS:-2}
RUNS=${BENCH_DATASET_RUNS:-3}

log() { printf '[bench-shard %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench-dataset-shard.sh: error: %s\n' "$*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
for c in $CORPORA; do [ -f "$DIR/$c/metadata.csv" ] || die "$DIR/$c: no corpus (run scripts/bench-dataset.sh first)"; done
export TTSGUARD_HOME=$DIR/no-store XDG_CONFIG_HOME=$DIR/xdg
rm -rf "$TTSGUARD_HOME"
if [ "${BENCH_DATASET_NO_BUILD:-0}" != 1 ]; then
	log "make build"
	make -s build >&2
fi
[ -x "$BIN" ] || die "$BIN not found"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# run NAME CMD...: RUNS timed runs; sets best wall, all walls, cpu and rss of the best
run() {
	local name=$1; shift
	best= all= cpu= rss=
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f '%e %U %S %M' -o "$OUT/t" "$@" || [ $? -eq 1 ] || die "$name failed"
		read -r e u s m < "$OUT/t"
		all="$all $e"
		if [ -z "$best" ] || awk -v a="$e" -v b="$best" 'BEGIN{exit !(a<b)}'; then
			best=$e cpu="$u + $s" rss=$(awk -v m="$m" 'BEGIN{printf "%.1f", m/1024}')
		fi
	done
	log "$name: best $best s (all:$all)"
}

echo "## dataset audit --shard / dataset merge"
echo
echo "| | |"
echo "|---|---|"
echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') |"
echo "| Cores (nproc) | $(nproc) |"
echo "| Go | $(go version | cut -d' ' -f3-) |"
echo "| ttsguard | $(git log -1 --format='%h %s' | cut -c1-90) |"
echo "| Date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
echo "| Load average (start) | $(cut -d' ' -f1-3 /proc/loadavg) |"
echo "| Shards | $N, runs $RUNS each, page cache warm |"
echo
echo "| Corpus | Clips | Step | Best wall (s) | CPU user + sys (s) | Peak RSS (MiB) | All runs (s) |"
echo "|---|---|---|---|---|---|---|"
for c in $CORPORA; do
	d=$DIR/$c
	cat "$d"/wavs/* > /dev/null
	clips=$(ls "$d/wavs" | wc -l)
	run "$c unsharded" sh -c "'$BIN' dataset audit --formatter ljspeech --json '$d' > '$OUT/full.json'"
	echo "| $c | $clips | unsharded audit | $best | $cpu | $rss | $all |"
	for i in $(seq 0 $((N - 1))); do
		run "$c shard $i/$N" sh -c "'$BIN' dataset audit --formatter ljspeech --shard $i/$N '$d' > '$OUT/s$i.json'"
		echo "| $c | | shard $i/$N alone | $best | $cpu | $rss | $all |"
	done
	all_shards="for i in \$(seq 0 $((N - 1))); do '$BIN' dataset audit --formatter ljspeech --shard \$i/$N '$d' > '$OUT/s'\$i.json & done; wait"
	run "$c $N shards at once" sh -c "$all_shards"
	echo "| $c | | $N shards at once, one machine | $best | $cpu | $rss (largest) | $all |"
	run "$c merge" sh -c "'$BIN' dataset merge --json '$OUT'/s*.json > '$OUT/merged.json'"
	echo "| $c | | merge of the $N reports | $best | $cpu | $rss | $all |"
	size=$(cat "$OUT"/s*.json | wc -c)
	same=$(python3 - "$OUT/full.json" "$OUT/merged.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["findings", "silenced", "composition", "counts", "rows", "clips", "audio_seconds", "majority_format", "root_digest"]
print("equal" if all(a.get(k) == b.get(k) for k in keys) else "DIFFERENT")
PY
)
	echo "| $c | | shard reports: $(awk -v s="$size" 'BEGIN{printf "%.1f MiB", s/1048576}') in all; merged report $same to the unsharded one | | | | |"
done
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
