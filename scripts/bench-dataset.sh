#!/usr/bin/env bash
# scripts/bench-dataset.sh — speed and memory of `ttsguard dataset audit` on
# generated LJSpeech-shaped corpora of real (synthesized) speech, 15 minutes
# to 2 hours (issue 10: ≥ 2,000 × real time, 1 hour in ≤ 1.8 s, peak RSS
# ≤ 256 MiB, cost per hour of audio flat).
#
# Usage: scripts/bench-dataset.sh > report.md 2> bench-dataset.log
# Prints a markdown report on stdout; progress goes to stderr.
#
# The corpus: espeak-ng (Debian's) reads generated English sentences of 6 to
# 24 words with five voices, speeds of 140-220 words a minute and pitches of
# 30-70, at 22,050 Hz 16-bit mono (what espeak-ng writes, as LJSpeech is),
# into wavs/LJxxx-yyyy.wav with an ljspeech metadata.csv. The smaller
# corpora are the first rows of the 2-hour one (hard links, one copy on
# disk). Every corpus is read once before the timed runs (page cache);
# each is audited BENCH_DATASET_RUNS times, best and all runs reported.
#
# Environment (all optional):
#   BENCH_DATASET_DIR      work folder; the corpus is made once and reused (default /tmp/bench-dataset)
#   BENCH_DATASET_MINUTES  corpus sizes in minutes (default "15 30 60 120")
#   BENCH_DATASET_RUNS     timed runs of each (default 3)
#   BENCH_DATASET_NO_BUILD=1  use bin/ttsguard as it is
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/ttsguard
DIR=${BENCH_DATASET_DIR:-/tmp/bench-dataset}
SIZES=${BENCH_DATASET_MINUTES:-15 30 60 120}
RUNS=${BENCH_DATASET_RUNS:-3}

log() { printf '[bench-dataset %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench-dataset.sh: error: %s\n' "$*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
command -v espeak-ng >/dev/null || die "espeak-ng not found (apt-get install espeak-ng)"
command -v python3 >/dev/null || die "python3 not found (it reads the JSON output)"
mkdir -p "$DIR"
# no store: the audit log is not written (one append per audit); the root
# digest of the dataset, computed alongside the audit, is in the numbers
export TTSGUARD_HOME=$DIR/no-store XDG_CONFIG_HOME=$DIR/xdg
rm -rf "$TTSGUARD_HOME"

if [ "${BENCH_DATASET_NO_BUILD:-0}" != 1 ]; then
	log "make build"
	make -s build >&2
fi
[ -x "$BIN" ] || die "$BIN not found"

max=0
for m in $SIZES; do [ "$m" -gt "$max" ] && max=$m; done
ALL=$DIR/all
# 22050 Hz × 2 bytes a sample: the corpus holds at least max minutes when
# its wavs hold this many bytes of samples (headers are 44 bytes a clip)
need=$((max * 60 * 22050 * 2))
have=0
[ -f "$ALL/done" ] && have=$(cat "$ALL/done")
if [ "$have" -lt "$need" ]; then
	log "synthesizing $max minutes of speech with espeak-ng into $ALL (once)"
	rm -rf "$ALL"; mkdir -p "$ALL/wavs"
	voices=(en-us en-gb en-gb-scotland en-029 en-gb-x-rp)
	# sentences from a fixed vocabulary, deterministic (awk's srand seed)
	awk -v n=100000 'BEGIN {
		srand(20261204)
		split("the a ship left at dawn nobody knew why printing in only sense which we are present concerned differs from most " \
		      "arts and crafts represented exhibition old clock hall struck nine then stopped rain fell steadily over hills all " \
		      "night long committee met twice during winter she wrote down every word witness said village remembered name of " \
		      "painter letter kept unopened small dog barked gate walked along quiet river bank best times prisoners knew it well " \
		      "seven hundred forty two houses stood by road north south east west morning evening bright cold warm", w, " ")
		nw = length(w)
		for (i = 1; i <= n; i++) {
			k = 6 + int(rand() * 19); s = ""
			for (j = 1; j <= k; j++) s = s (j > 1 ? " " : "") w[1 + int(rand() * nw)]
			print toupper(substr(s, 1, 1)) substr(s, 2) "."
		}
	}' > "$DIR/sentences.txt"
	bytes=0 i=0
	: > "$ALL/metadata.csv"
	while IFS= read -r text && [ "$bytes" -lt "$need" ]; do
		i=$((i + 1))
		id=$(printf 'LJ%03d-%04d' $((i / 1000 + 1)) $((i % 1000)))
		v=${voices[$((i % 5))]}
		espeak-ng -v "$v" -s $((140 + (i * 7) % 81)) -p $((30 + (i * 13) % 41)) -w "$ALL/wavs/$id.wav" "$text"
		bytes=$((bytes + $(stat -c %s "$ALL/wavs/$id.wav") - 44))
		printf '%s|%s|%s\n' "$id" "$text" "$text" >> "$ALL/metadata.csv"
	done < "$DIR/sentences.txt"
	echo "$bytes" > "$ALL/done"
	log "$i clips"
fi

# corpus of m minutes: the first rows of ALL whose samples reach m minutes
subset() {
	local m=$1 out=$DIR/c$1 want=$(($1 * 60 * 22050 * 2)) bytes=0
	rm -rf "$out"; mkdir -p "$out/wavs"
	while IFS='|' read -r id text _ && [ "$bytes" -lt "$want" ]; do
		ln "$ALL/wavs/$id.wav" "$out/wavs/$id.wav"
		printf '%s|%s|%s\n' "$id" "$text" "$text" >> "$out/metadata.csv"
		bytes=$((bytes + $(stat -c %s "$out/wavs/$id.wav") - 44))
	done < "$ALL/metadata.csv"
}

cat <<EOF
## Dataset audit: \`ttsguard dataset audit\` on espeak-ng speech (issue 10)

| | |
|---|---|
| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') |
| Cores (nproc) | $(nproc) |
| Memory | $(awk '/MemTotal/ {printf "%d MiB", $2/1024}' /proc/meminfo) |
| Go | $(go version | cut -d' ' -f3-) |
| ttsguard | $(git log -1 --format='%h %s' | cut -c1-90) |
| Date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| Load average (start) | $(cut -d' ' -f1-3 /proc/loadavg) |
| Command | \`ttsguard dataset audit --formatter ljspeech --json DIR > report.json\` (every rule, and the folder's root digest), $RUNS runs each, page cache warm |

| Corpus | Clips | Audio (h:mm:ss) | Size (MiB) | Best wall (s) | × real time | s per hour of audio | CPU user + sys (s) | Peak RSS (MiB) | Findings ≥ low | All runs (s) |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
for m in $SIZES; do
	subset "$m"
	c=$DIR/c$m
	log "corpus $m min: $(wc -l < "$c/metadata.csv") clips; reading once"
	cat "$c"/wavs/*.wav > /dev/null
	runs="" best="" line=""
	for r in $(seq "$RUNS"); do
		log "audit $m min, run $r/$RUNS"
		rc=0
		/usr/bin/time -f '%e %M %U %S' -o "$DIR/time.txt" "$BIN" dataset audit --formatter ljspeech --json "$c" > "$DIR/report.json" || rc=$?
		[ "$rc" -le 1 ] || die "audit of $c exited $rc"
		read -r wall rss user sys < "$DIR/time.txt"
		runs="$runs $wall"
		if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $wall < $best else 1)"; then
			best=$wall line="$rss $user $sys"
		fi
	done
	read -r rss user sys <<< "$line"
	python3 - "$DIR/report.json" "$m" "$best" "$rss" "$user" "$sys" "$runs" "$(du -sm "$c" | cut -f1)" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
m, best, rss, user, sys_, runs, mib = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7].split(), sys.argv[8]
secs = rep["audio_seconds"]
h, rest = divmod(int(secs), 3600)
mm, ss = divmod(rest, 60)
n = sum(1 for f in (rep["findings"] or []) if f["severity"] != "info")
print(f"| {m} min | {rep['clips']} | {h}:{mm:02d}:{ss:02d} | {mib} | {best:.2f} | {secs / best:,.0f} | {best / (secs / 3600):.2f} | {user} + {sys_} | {rss / 1024:.1f} | {n} | {' '.join(runs)} |")
PY
done
echo
echo "Load average (end): $(cut -d' ' -f1-3 /proc/loadavg)"
