#!/usr/bin/env bash
# The HTML report of `ttsguard dataset audit --html` in a real headless Chromium (outside the
# default `go test`): installs Debian's chromium when it is missing (apt-get, as root), then
#  1. TestChromium (TTSGUARD_CHROMIUM=1): a poisoned dataset with hostile clip ids (</script>,
#     quotes, a bidi override) and transcripts (terminal escapes), two rate outliers and two
#     inaudible tones is audited and its page rendered: the dumped DOM (--dump-dom) holds one SVG
#     per plot, one red dot per outlier, a row per finding, each hostile id in its quoted form and no
#     script; the screenshot (--screenshot) is not blank, the style sheet applied (the CSP let it
#     through; the browser logged no refusal) and each plot's colour is present, plots in page order.
#  2. The real CLI on the generated test corpus (internal/dataset/dstest): `ttsguard dataset audit
#     --html` of inaudible-tone, swapped-labels and clean-coqui, each page rendered and checked the
#     same way (not blank, style applied, SVG present, no script), its counts printed.
# No pixel comparison: presence of the plots only.
#
#   scripts/e2e-html.sh
# Environment: E2E_HTML_OUT (default: a new folder under /tmp) keeps the pages, screenshots
# (*.png) and DOM dumps (*.dom.html); TTSGUARD_CHROMIUM_BIN names the browser (default: chromium
# on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

if [ -z "${TTSGUARD_CHROMIUM_BIN:-}" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
	echo "e2e-html: installing chromium from Debian" >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
OUT=${E2E_HTML_OUT:-$(mktemp -d /tmp/ttsguard-e2e-html-XXXXXX)}
mkdir -p "$OUT"
"${TTSGUARD_CHROMIUM_BIN:-$(command -v chromium || command -v chromium-browser)}" --version 2>/dev/null

go build -o "$OUT/ttsguard" ./cmd/ttsguard
rm -rf "$OUT/corpus"
go run ./internal/dataset/dstest/gen "$OUT/corpus" >/dev/null
pages=()
for spec in inaudible-tone:ljspeech:1 swapped-labels:ljspeech:1 clean-coqui:coqui:0; do
	IFS=: read -r ds fmt want <<<"$spec"
	rc=0
	"$OUT/ttsguard" dataset audit --formatter "$fmt" --html "$OUT/$ds.html" "$OUT/corpus/$ds" >"$OUT/$ds.txt" || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "e2e-html: dataset audit of $ds exited $rc, want $want" >&2
		cat "$OUT/$ds.txt" >&2
		exit 1
	fi
	pages+=("$OUT/$ds.html")
done

TTSGUARD_CHROMIUM=1 TTSGUARD_HTML_OUT="$OUT" TTSGUARD_HTML_FILES="${pages[*]}" \
	go test -count=1 -run '^TestChromium$' -v ./internal/dataset/htmlreport/ 2>&1 | grep -v '^\[[0-9:/.]*ERROR:' | grep -v '^    \[' 
rc=${PIPESTATUS[0]}
echo "e2e-html: pages, screenshots and DOM dumps in $OUT"
exit "$rc"
