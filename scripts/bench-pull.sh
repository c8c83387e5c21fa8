#!/usr/bin/env bash
# scripts/bench-pull.sh — `ttsguard pull` against `curl -o FILE` from a loopback
# HTTPS server (issue 4, "Speed and memory"):
#   a 2 GiB single-file model  ≤ 1.3 × curl,   a 2 GiB zip model  ≤ 2 × curl,
#   peak RSS ≤ 64 MiB in both.
#
# Usage: scripts/bench-pull.sh > report.md 2> bench-pull.log
# Prints a markdown report on stdout; progress goes to stderr.
#
# What it does, in one run, on 127.0.0.1 only:
#   1. a throwaway CA and a server certificate for IP 127.0.0.1 (openssl, IP SAN);
#      a static HTTPS file server (scripts/bench_pull/server, Go stdlib, a module
#      of its own) serving $BENCH_PULL_DIR/www:
#        model.safetensors  a valid safetensors file of exactly 2 GiB, random data
#        bench-model.zip    ZIP_STORED: bench-model/{config.json, model.safetensors}
#      (made once by scripts/bench_pull/gen_artifacts.py and reused);
#   2. a policy: version 1, store in a fresh 0700 folder, sources: the server, ca_bundle: the CA;
#   3. per artifact, BENCH_PULL_RUNS rounds of
#        curl -sS --cacert CA -o FILE URL
#        bin/ttsguard pull --policy P --name m URL
#      each under /usr/bin/time -v (peak RSS), each with a cold store and no lock file
#      (both removed, the curl output too, then `sync`, before every run) and a warm
#      page cache on the server side (the artifact is read once before every run);
#      the best wall time of each is kept;
#   4. a markdown table: artifact, curl s, ttsguard s, ratio, peak RSS, goals met;
#   5. (BENCH_PULL_PHASES=1) where the time goes: curl to /dev/null, curl + fsync of
#      its output, `ttsguard digest`, `ttsguard scan`, `ttsguard pull` of the local
#      file or zip (everything but the network), one run each; and one pull per URL
#      under strace, split into phases at the file system calls that mark them.
#
# Environment (all optional):
#   BENCH_PULL_DIR          work folder: www/ (artifacts, kept for reuse), bin/ (the server),
#                           run.XXXXXX/ (certificates, policy, store; removed at exit),
#                           logs/ (the last run's per-command logs, strace logs included)
#                                                                  (default /tmp/bench-pull)
#   BENCH_PULL_SIZE         bytes of model.safetensors             (default 2147483648 = 2 GiB)
#   BENCH_PULL_RUNS         timed rounds per artifact, best kept   (default 3)
#   BENCH_PULL_QUIET_WAIT   before each timed run wait up to this many seconds for the machine
#                           to be idle (< 0.15 cores busy); the busiest seen is reported (default 30)
#   BENCH_PULL_PHASES=0     skip the phase breakdown
#   BENCH_PULL_STRACE=0     skip the strace timeline of one pull per artifact (default: on when
#                           strace is installed)
#   BENCH_PULL_NO_BUILD=1   use bin/ttsguard as it is, do not run `make build`
#   BENCH_PULL_BIN          the ttsguard binary to measure (implies no build)
#   BENCH_PULL_SERVER       a prebuilt scripts/bench_pull/server binary (then go is not needed)
#   BENCH_PULL_TIME         GNU time binary                        (default /usr/bin/time)
set -euo pipefail
export LC_ALL=C
unset TTSGUARD_POLICY TTSGUARD_HOME

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BENCH_PULL_BIN:-$ROOT/bin/ttsguard}
HELP=$ROOT/scripts/bench_pull
DIR=${BENCH_PULL_DIR:-/tmp/bench-pull}
SIZE=${BENCH_PULL_SIZE:-2147483648}
RUNS=${BENCH_PULL_RUNS:-3}
QUIET_WAIT=${BENCH_PULL_QUIET_WAIT:-30}
PHASES=${BENCH_PULL_PHASES:-1}
STRACE=${BENCH_PULL_STRACE:-$(command -v strace >/dev/null && echo 1 || echo 0)}
WWW=$DIR/www
GOAL_SINGLE=1.3
GOAL_ZIP=2.0
GOAL_RSS_KIB=$((64 * 1024))

log() { printf '[bench-pull %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench-pull.sh: error: %s\n' "$*" >&2; exit 1; }
TIME=${BENCH_PULL_TIME:-/usr/bin/time}
for t in openssl curl python3 awk; do command -v "$t" >/dev/null || die "$t not found"; done
[ -n "${BENCH_PULL_SERVER:-}" ] || command -v go >/dev/null || die "go not found (or set BENCH_PULL_SERVER)"
[ -x "$TIME" ] || die "$TIME not found (apt-get install time, or set BENCH_PULL_TIME)"
mkdir -p "$DIR" "$WWW" "$DIR/bin"

# ---------------------------------------------------------------- build
if [ "${BENCH_PULL_NO_BUILD:-0}" != 1 ] && [ -z "${BENCH_PULL_BIN:-}" ]; then
	log "make build"
	make -s build >&2
fi
[ -x "$BIN" ] || die "$BIN missing (make build)"
SRV=${BENCH_PULL_SERVER:-}
if [ -z "$SRV" ]; then
	SRV=$DIR/bin/server
	log "building the loopback HTTPS server"
	(cd "$HELP/server" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -o "$SRV" .) >&2
fi
[ -x "$SRV" ] || die "server $SRV missing"

# ---------------------------------------------------------------- disk space
# Artifacts: 2 × SIZE (kept). During a run: curl's output (SIZE) or the store plus
# its staging folder (a zip pull holds the download and the extracted file: 2 × SIZE).
avail=$(df -P -B1 "$DIR" | awk 'NR==2{print $4}')
need=$((3 * SIZE + (1 << 30)))
for f in model.safetensors bench-model.zip; do
	[ -f "$WWW/$f" ] || need=$((need + SIZE))
done
log "disk: $((avail >> 20)) MiB free on $(df -P "$DIR" | awk 'NR==2{print $6}'), need about $((need >> 20)) MiB"
[ "$avail" -ge "$need" ] || die "not enough free space in $DIR: $((avail >> 20)) MiB free, need $((need >> 20)) MiB (set BENCH_PULL_DIR)"

# ---------------------------------------------------------------- artifacts
log "artifacts in $WWW (made once, reused)"
python3 "$HELP/gen_artifacts.py" "$WWW" "$SIZE"
SINGLE=$WWW/model.safetensors
ZIP=$WWW/bench-model.zip

# ---------------------------------------------------------------- run folder, TLS, server
RUN=$(mktemp -d "$DIR/run.XXXXXX") # 0700
STORE=$RUN/store
POLICY=$RUN/policy.yaml
LOCK=$RUN/ttsguard.lock
OUTF=$RUN/curl.out
SRV_PID=
clean_store() {
	# The store is read-only by design (files 0444, folders 0555).
	if [ -e "$STORE" ]; then chmod -R u+w "$STORE" 2>/dev/null || true; rm -rf "$STORE"; fi
	rm -f "$LOCK" "$OUTF"
}
cleanup() {
	if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi
	clean_store
	# Keep the small per-run logs (time -v, stdout/stderr, strace) of the last run.
	if rm -rf "$DIR/logs" && mkdir -p "$DIR/logs"; then
		find "$RUN" -maxdepth 1 -type f \( -name '*.log' -o -name '*.err' -o -name '*.out' -o -name '*.time' -o -name '*.yaml' \) \
			! -name curl.out -exec cp {} "$DIR/logs/" \; 2>/dev/null || true
	fi
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "throwaway CA and server certificate for 127.0.0.1"
TLS=$RUN/tls
mkdir -m 700 "$TLS"
CA=$TLS/ca.pem
{
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=bench-pull throwaway CA" -keyout "$TLS/ca.key" -out "$CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=127.0.0.1" -keyout "$TLS/server.key" -out "$TLS/server.csr"
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1" >"$TLS/ext.cnf"
	openssl x509 -req -in "$TLS/server.csr" -CA "$CA" -CAkey "$TLS/ca.key" -CAcreateserial \
		-days 2 -extfile "$TLS/ext.cnf" -out "$TLS/server.pem"
} >/dev/null 2>"$TLS/openssl.log" || { cat "$TLS/openssl.log" >&2; die "openssl failed"; }

"$SRV" -dir "$WWW" -cert "$TLS/server.pem" -key "$TLS/server.key" -addr 127.0.0.1:0 \
	-portfile "$RUN/port" 2>"$RUN/server.log" &
SRV_PID=$!
for _ in $(seq 100); do [ -s "$RUN/port" ] && break; sleep 0.1; done
[ -s "$RUN/port" ] || { cat "$RUN/server.log" >&2; die "the server did not start"; }
PORT=$(cat "$RUN/port")
BASE=https://127.0.0.1:$PORT/
log "server pid $SRV_PID on $BASE"

cat >"$POLICY" <<EOF
version: 1
store: $STORE
sources:
  - "$BASE"
ca_bundle: $CA
EOF
"$BIN" policy check "$POLICY" >"$RUN/policy-check.txt" 2>&1 || { cat "$RUN/policy-check.txt" >&2; die "policy check failed"; }
TLSINFO=$(curl -sS -v --cacert "$CA" -o /dev/null "${BASE}model.safetensors" --range 0-0 2>&1 |
	sed -n 's/^\* SSL connection using //p' | head -1)

# ---------------------------------------------------------------- helpers
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat; }
BUSY=0
wait_quiet() { # sets BUSY: cores busy in the last 1 s window
	local deadline=$((SECONDS + QUIET_WAIT)) b0 t0 b1 t1
	while :; do
		read -r b0 t0 < <(cpu_ticks)
		sleep 1
		read -r b1 t1 < <(cpu_ticks)
		BUSY=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v n="$(nproc)" 'BEGIN{printf "%.2f", (t ? b / t : 0) * n}')
		awk -v x="$BUSY" 'BEGIN{exit !(x < 0.15)}' && return 0
		[ "$SECONDS" -lt "$deadline" ] || return 0
	done
}
secs() { awk -v us="$1" 'BEGIN{printf "%.2f", us / 1e6}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }

# timed NAME CMD...: prepares (clean store, warm server-side cache, sync, quiet), runs CMD
# under /usr/bin/time -v; sets T_US (wall µs), RSS_KIB, RC. Logs in $RUN/NAME.*
T_US=0 RSS_KIB=0 RC=0
timed() {
	local name=$1 t0 t1
	shift
	clean_store
	cat "$WARM" >/dev/null
	sync
	wait_quiet
	t0=$(date +%s%N)
	RC=0
	"$TIME" -v -o "$RUN/$name.time" "$@" >"$RUN/$name.out" 2>"$RUN/$name.err" || RC=$?
	t1=$(date +%s%N)
	T_US=$(((t1 - t0) / 1000))
	RSS_KIB=$(awk -F': ' '/Maximum resident set size/{print $2}' "$RUN/$name.time")
	log "$name: $(secs "$T_US") s, peak RSS $(mib "$RSS_KIB") MiB, exit $RC, busy cores before: $BUSY"
	if [ "$RC" != 0 ]; then
		sed 's/^/    /' "$RUN/$name.err" >&2
	fi
}

# ---------------------------------------------------------------- timed rounds
declare -A BEST_CURL BEST_TG RSS_TG RSS_CURL MAXBUSY FAIL ALL_CURL ALL_TG
ARTS=(single zip)
declare -A FILE_OF=([single]=$SINGLE [zip]=$ZIP)
SIZE_H=$(awk -v s="$SIZE" 'BEGIN{if (s % 1073741824 == 0) printf "%d GiB", s / 1073741824; else printf "%.0f MiB", s / 1048576}')
declare -A LABEL=([single]="$SIZE_H single file (model.safetensors)" [zip]="$SIZE_H zip, stored (bench-model.zip)")
declare -A GOAL=([single]=$GOAL_SINGLE [zip]=$GOAL_ZIP)
for a in "${ARTS[@]}"; do
	f=${FILE_OF[$a]}
	url=$BASE$(basename "$f")
	WARM=$f
	BEST_CURL[$a]=0 BEST_TG[$a]=0 RSS_TG[$a]=0 RSS_CURL[$a]=0 MAXBUSY[$a]=0 FAIL[$a]="" ALL_CURL[$a]="" ALL_TG[$a]=""
	for i in $(seq "$RUNS"); do
		timed "curl-$a-$i" curl -sS --cacert "$CA" -o "$OUTF" "$url"
		[ "$RC" = 0 ] || die "curl $url failed"
		[ "$(stat -c %s "$OUTF")" = "$(stat -c %s "$f")" ] || die "curl $url: wrong size"
		MAXBUSY[$a]=$(awk -v a="${MAXBUSY[$a]}" -v b="$BUSY" 'BEGIN{print (b > a ? b : a)}')
		ALL_CURL[$a]+="$(secs "$T_US") "
		if [ "${BEST_CURL[$a]}" = 0 ] || [ "$T_US" -lt "${BEST_CURL[$a]}" ]; then BEST_CURL[$a]=$T_US; fi
		[ "$RSS_KIB" -gt "${RSS_CURL[$a]}" ] && RSS_CURL[$a]=$RSS_KIB

		timed "ttsguard-$a-$i" "$BIN" pull --policy "$POLICY" --name m "$url"
		MAXBUSY[$a]=$(awk -v a="${MAXBUSY[$a]}" -v b="$BUSY" 'BEGIN{print (b > a ? b : a)}')
		if [ "$RC" != 0 ]; then
			FAIL[$a]="exit $RC: $(tail -1 "$RUN/ttsguard-$a-$i.err")"
			ALL_TG[$a]+="fail "
			continue
		fi
		[ -f "$LOCK" ] || log "warning: no lock file at $LOCK after the pull"
		stored=$("$BIN" path --policy "$POLICY" m)/model.safetensors
		[ "$(stat -c %s "$stored")" = "$(stat -c %s "$SINGLE")" ] || die "ttsguard stored $stored with the wrong size"
		ALL_TG[$a]+="$(secs "$T_US") "
		if [ "${BEST_TG[$a]}" = 0 ] || [ "$T_US" -lt "${BEST_TG[$a]}" ]; then BEST_TG[$a]=$T_US; fi
		[ "$RSS_KIB" -gt "${RSS_TG[$a]}" ] && RSS_TG[$a]=$RSS_KIB
	done
done
clean_store

# ---------------------------------------------------------------- phases (one run each)
declare -A PH_T PH_R PH_CMD
PH_ORDER=()
phase() { # phase KEY WARMFILE DISPLAY-CMD CMD...
	local key=$1 warm=$2 disp=$3
	shift 3
	WARM=$warm
	timed "phase-$key" "$@"
	PH_ORDER+=("$key")
	PH_T[$key]=$T_US PH_R[$key]=$RSS_KIB PH_CMD[$key]=$disp
	[ "$RC" = 0 ] || PH_T[$key]=fail
}
if [ "$PHASES" = 1 ]; then
	log "phase breakdown"
	U1=${BASE}model.safetensors
	phase curl-null "$SINGLE" "curl -sS --cacert CA -o /dev/null URL (single)" curl -sS --cacert "$CA" -o /dev/null "$U1"
	# shellcheck disable=SC2016 # expanded by the inner sh
	phase curl-fsync "$SINGLE" "curl -sS --cacert CA -o FILE URL && sync FILE (single)" \
		sh -c 'curl -sS --cacert "$1" -o "$2" "$3" && sync "$2"' sh "$CA" "$OUTF" "$U1"
	phase digest "$SINGLE" "ttsguard digest model.safetensors" "$BIN" digest "$SINGLE"
	phase scan "$SINGLE" "ttsguard scan model.safetensors" "$BIN" scan "$SINGLE"
	phase local-single "$SINGLE" "ttsguard pull --policy P --name m www/model.safetensors (no network)" \
		"$BIN" pull --policy "$POLICY" --name m "$SINGLE"
	phase local-zip "$ZIP" "ttsguard pull --policy P --name m www/bench-model.zip (no network)" \
		"$BIN" pull --policy "$POLICY" --name m "$ZIP"
	clean_store
fi
# One traced pull per artifact: phase boundaries from file system calls (timeline.py).
declare -A TL
TL_ROWS=()
if [ "$PHASES" = 1 ] && [ "$STRACE" = 1 ]; then
	for a in "${ARTS[@]}"; do
		f=${FILE_OF[$a]}
		WARM=$f
		timed "strace-$a" strace -f --seccomp-bpf -ttt -T -e signal=none \
			-e trace=execve,openat,fsync,renameat,mkdirat,exit_group -o "$RUN/strace-$a.log" \
			"$BIN" pull --policy "$POLICY" --name m "$BASE$(basename "$f")"
		[ "$RC" = 0 ] || continue
		while IFS=$'\t' read -r k v; do
			[ -n "${TL[$k,single]+x}${TL[$k,zip]+x}" ] || TL_ROWS+=("$k")
			TL[$k,$a]=$v
		done < <(python3 "$HELP/timeline.py" "$RUN/strace-$a.log")
	done
	clean_store
fi

# ---------------------------------------------------------------- report
CPU=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/{printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
FS=$(df -PT "$DIR" | awk 'NR==2{print $2}')
echo "Machine: ${CPU:-unknown CPU}, $(nproc) cores, $MEM RAM; $(uname -sr); work folder $DIR ($FS)."
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $("$BIN" --version 2>/dev/null | head -1 || echo "ttsguard ?"); $(curl --version | head -1 | cut -d' ' -f1-2); TLS (curl): ${TLSINFO:-?}."
echo "Artifacts: model.safetensors $(stat -c %s "$SINGLE") bytes, bench-model.zip $(stat -c %s "$ZIP") bytes; best of $RUNS, cold store, warm server page cache."
echo
echo "| artifact | curl s | ttsguard s | ratio | ttsguard peak RSS | goal | goal met? |"
echo "|---|---|---|---|---|---|---|"
for a in "${ARTS[@]}"; do
	c=${BEST_CURL[$a]} t=${BEST_TG[$a]} r=${RSS_TG[$a]} g=${GOAL[$a]}
	if [ "$t" = 0 ]; then
		echo "| ${LABEL[$a]} | $(secs "$c") | failed | — | — | ≤ $g × curl, ≤ 64 MiB | no: ${FAIL[$a]} |"
		continue
	fi
	ratio=$(awk -v t="$t" -v c="$c" 'BEGIN{printf "%.2f", t / c}')
	tmet=$(awk -v r="$ratio" -v g="$g" 'BEGIN{print (r <= g ? "yes" : "no")}')
	rmet=$([ "$r" -le "$GOAL_RSS_KIB" ] && echo yes || echo no)
	echo "| ${LABEL[$a]} | $(secs "$c") | $(secs "$t") | $ratio | $(mib "$r") MiB | ≤ $g × curl, ≤ 64 MiB | time: $tmet, RSS: $rmet |"
done
echo
echo "All runs (s): $(for a in "${ARTS[@]}"; do printf '%s curl [%s] ttsguard [%s]; ' "$a" "${ALL_CURL[$a]% }" "${ALL_TG[$a]% }"; done)"
echo "curl throughput (best): $(for a in "${ARTS[@]}"; do awk -v s="$(stat -c %s "${FILE_OF[$a]}")" -v us="${BEST_CURL[$a]}" -v a="$a" 'BEGIN{printf "%s %.0f MB/s; ", a, s / us}'; done)curl peak RSS: $(mib "${RSS_CURL[single]}") MiB."
echo "Busiest machine seen just before a timed run (cores of $(nproc)): single ${MAXBUSY[single]}, zip ${MAXBUSY[zip]}."
if [ "$PHASES" = 1 ]; then
	echo
	echo "Where the time goes (one run each, same machine, same cache state):"
	echo
	echo "| step | s | MB/s | peak RSS |"
	echo "|---|---|---|---|"
	for k in "${PH_ORDER[@]}"; do
		t=${PH_T[$k]}
		if [ "$t" = fail ]; then echo "| \`${PH_CMD[$k]}\` | failed | — | — |"; continue; fi
		echo "| \`${PH_CMD[$k]}\` | $(secs "$t") | $(awk -v s="$SIZE" -v us="$t" 'BEGIN{printf "%.0f", s / us}') | $(mib "${PH_R[$k]}") MiB |"
	done
fi
if [ "${#TL_ROWS[@]}" -gt 0 ]; then
	echo
	echo "One \`ttsguard pull\` of each URL under \`strace -f --seccomp-bpf -T\` (file system calls only), split at the calls that"
	echo "mark each phase (scripts/bench_pull/timeline.py):"
	echo
	echo "| phase | single file s | zip s |"
	echo "|---|---|---|"
	for k in "${TL_ROWS[@]}"; do echo "| $k | ${TL[$k,single]:-—} | ${TL[$k,zip]:-—} |"; done
fi
log "done"
