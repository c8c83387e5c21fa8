# ttsguard — build and test. `make test` is the one test command (README, .ci/run).
GO        ?= go
export GOTOOLCHAIN := local
export CGO_ENABLED := 0
BIN       := bin/ttsguard
GOFLAGS_B := -trimpath -buildvcs=true

.PHONY: build test vet race interop conformance example bench bench-scan bench-pull bench-run bench-diff e2e e2e-train e2e-oci e2e-fleet fuzz clean wheel test-python e2e-python image

build:
	$(GO) build $(GOFLAGS_B) -o $(BIN) ./cmd/ttsguard

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

# The race detector needs cgo; only the tests use it, the product is built with CGO_ENABLED=0.
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

interop: build
	scripts/interop.sh

# Outside CI: the OMS conformance suite through scripts/conformance/adapter. The suite and its
# oms-schemas package are on no package registry, so CI cannot fetch them: give checkouts in
# CONFORMANCE_DIR and OMS_SCHEMAS_DIR (see scripts/conformance.sh).
conformance: build
	scripts/conformance.sh

# The one test command: vet + gofmt, all Go tests under the race detector,
# the product build without cgo, the live round trip with the reference model_signing,
# and the light tests of the Python wheel (no torch: scripts/test-python.sh).
test: vet race build interop test-python

# The Python package's platform wheels (linux x86_64 and aarch64, the static binary inside) into dist/ (docs/python.md).
wheel:
	scripts/build-wheel.sh

test-python:
	scripts/test-python.sh

# Outside CI: the wheel with the real coqui-tts and torch (pytest; see scripts/e2e-python.sh).
e2e-python:
	scripts/e2e-python.sh

# Re-sign and re-pin the bundled example with the bundled example key (after scripts/gen-example.py).
example: build
	$(BIN) sign key --private-key examples/keys/example.key examples/tiny-vits
	rm -f examples/ttsguard.lock
	tmp=$$(mktemp -d) && TTSGUARD_HOME=$$tmp/store $(BIN) pull --policy examples/ttsguard.yaml --name tiny-vits examples/tiny-vits; rc=$$?; rm -rf $$tmp; exit $$rc

bench: build
	scripts/bench.sh

bench-scan: build
	scripts/bench-scan.sh

bench-pull: build
	scripts/bench-pull.sh

bench-run: build
	BENCH_OLD_REV=$(BENCH_OLD_REV) scripts/bench-run.sh

# diff of two 2 GiB checkpoints against reading both (torch makes them once: BENCH_DIFF_PYTHON).
bench-diff: build
	BENCH_DIFF_NO_BUILD=1 scripts/bench-diff.sh

# Outside CI: the real coqui-tts from PyPI served under `ttsguard run --tts-server` (needs PyPI; see the script).
e2e: build
	scripts/e2e-tts.sh

# Outside CI, as root: a real coqui training step under ttsguard train (scripts/e2e-train.sh;
# espeak-ng and /opt/e2e-venv or E2E_VENV with coqui-tts 0.28).
e2e-train:
	scripts/e2e-train.sh

# Outside CI: a real registry (Debian's docker-registry, TLS on 127.0.0.1): push, crane/oras interop, pull,
# outage and a tampered blob (scripts/e2e-oci.sh); N hosts following it and a TUF channel (scripts/e2e-fleet.sh).
e2e-oci:
	scripts/e2e-oci.sh

e2e-fleet:
	scripts/e2e-fleet.sh

# Outside CI: the differential harness, generated checkpoints loaded by the real torch/numpy/coqui against `scan` (docs/scan.md).
differential: ; scripts/differential/run.sh --minutes $(or $(MINUTES),10) $(if $(OUT),--out $(OUT))

# Every fuzz target for FUZZTIME each (outside CI). New crashers land in testdata/fuzz and become regression tests.
FUZZTIME ?= 60s
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
	  for t in $$($(GO) test $$pkg -list '^Fuzz' 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; CGO_ENABLED=1 $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s; \
	  done; \
	done

clean:
	rm -rf bin build dist

# The minimal container image (deploy/Dockerfile, docs/deploy.md), when a builder answers.
image:
	@if docker info >/dev/null 2>&1; then docker build -f deploy/Dockerfile -t ttsguard .; else echo "make image: no container builder answers (docker info); skipped"; fi
