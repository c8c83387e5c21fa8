#!/usr/bin/env bash
# make wheel: ttsguard's platform wheels for Python users, into dist/ (docs/python.md).
# For each architecture: a static binary cross-built with GOARCH (CGO_ENABLED=0, -trimpath), then
# python/build_wheel.py writes the wheel around it. Reproducible: the same commit gives the same
# bytes (timestamps from SOURCE_DATE_EPOCH, default the commit's time).
#
#   scripts/build-wheel.sh            WHEEL_ARCHES="x86_64 aarch64" (default), WHEEL_OUT=dist
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local CGO_ENABLED=0 GOOS=linux
OUT=${WHEEL_OUT:-dist}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}
for arch in ${WHEEL_ARCHES:-x86_64 aarch64}; do
  case $arch in
    x86_64) goarch=amd64 ;;
    aarch64) goarch=arm64 ;;
    *) echo "build-wheel: unknown architecture $arch (want x86_64 or aarch64)" >&2; exit 2 ;;
  esac
  bin=build/wheel/$arch/ttsguard
  GOARCH=$goarch go build -trimpath -buildvcs=true -o "$bin" ./cmd/ttsguard
  python3 python/build_wheel.py --binary "$bin" --arch "$arch" --out "$OUT"
done
