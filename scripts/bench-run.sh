#!/usr/bin/env bash
# Start-up cost of the sandbox: wall time of `ttsguard run NAME -- /bin/true` (the check of a small stored
# model, the sandbox's two stages, namespaces as root, exec, the end), averaged over N runs, for this tree
# and, when BENCH_OLD_REV is set (e.g. 88de150), for that commit built from a git worktree, interleaved.
#   scripts/bench-run.sh [N]      default 30
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local CGO_ENABLED=0
N=${1:-30}
WORK=$(mktemp -d /tmp/ttsguard-bench-run-XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"; [ -n "${OLD:-}" ] && git worktree remove --force "$OLD" >/dev/null 2>&1 || true' EXIT
go build -o "$WORK/new" ./cmd/ttsguard
bins=(new)
if [ -n "${BENCH_OLD_REV:-}" ]; then
  OLD="$WORK/old-tree"
  git worktree add -q "$OLD" "$BENCH_OLD_REV"
  (cd "$OLD" && go build -o "$WORK/old" ./cmd/ttsguard)
  bins+=(old)
fi
printf 'version: 1\nstore: store\nsources: []\n' >"$WORK/p.yaml"
"$WORK/new" pull --policy "$WORK/p.yaml" --name tiny examples/tiny-vits >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), uid $(id -u)"
for round in 1 2 3; do
  for b in "${bins[@]}"; do
    s=$(date +%s%N)
    for _ in $(seq "$N"); do "$WORK/$b" run --policy "$WORK/p.yaml" tiny -- /bin/true >/dev/null 2>&1; done
    e=$(date +%s%N)
    echo "round $round $b: $(( (e - s) / N / 1000 )) us per run"
  done
done
