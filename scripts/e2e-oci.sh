#!/usr/bin/env bash
# End to end OCI distribution (outside CI; issue 12) against a REAL registry: Debian's docker-registry
# (CNCF distribution 2.8, no referrers API: the referrers tag scheme is used), started here on 127.0.0.1
# with a TLS certificate this script makes.
#   1. a publisher store pulls the bundled example (signed) and pushes it: oci://127.0.0.1:PORT/models/tiny-vits:v1
#   2. interop: `crane manifest` shows the ModelPack manifest, `oras discover` its model.sig referrer
#   3. a host pulls it by tag (signature from the referrer, manifest digest pinned) and checks it
#   4. the registry is stopped: a pull fails cleanly (no lock, no stored model); restarted: it succeeds
#   5. a blob changed in the registry's filesystem storage is refused
#   6. with E2E_OCI_BENCH_MB=N: a model with an N MiB checkpoint pushed, then pulled by ttsguard and copied by
#      `oras cp --to-oci-layout` in the same run (best of 3 each)
# Needs: apt-get install -y docker-registry; crane and oras (installed here with go install into $GOBIN when
# missing: github.com/google/go-containerregistry/cmd/crane@v0.21.7, oras.land/oras/cmd/oras@v1.3.0).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
command -v docker-registry >/dev/null || { echo "needs docker-registry: apt-get install -y docker-registry"; exit 2; }
WORK=$(mktemp -d /tmp/ttsguard-e2e-oci-XXXXXX)
REGPID=
cleanup() {
	[ -n "$REGPID" ] && kill "$REGPID" 2>/dev/null || true
	if [ "${E2E_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
T0=$(date +%s)
step() { printf '\n== [%3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
fail() { echo "FAIL: $*"; exit 1; }

step "build ttsguard; crane and oras"
CGO_ENABLED=0 go build -o "$WORK/ttsguard" ./cmd/ttsguard
TG="$WORK/ttsguard"
export GOBIN=${GOBIN:-$WORK/gobin}
export PATH="$GOBIN:$PATH"
command -v crane >/dev/null || (cd /tmp && go install github.com/google/go-containerregistry/cmd/crane@v0.21.7)
command -v oras >/dev/null || (cd /tmp && go install oras.land/oras/cmd/oras@v1.3.0)

step "start docker-registry with TLS on 127.0.0.1"
PORT=${E2E_OCI_PORT:-5443}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/reg.key" -out "$WORK/reg.pem" 2>/dev/null
cat > "$WORK/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/regdata}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PORT, tls: {certificate: $WORK/reg.pem, key: $WORK/reg.key}}
YML
start_registry() {
	docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
	REGPID=$!
	for _ in $(seq 50); do
		curl -sf --cacert "$WORK/reg.pem" "https://127.0.0.1:$PORT/v2/" >/dev/null && return 0
		sleep 0.2
	done
	cat "$WORK/registry.log"; fail "the registry did not start"
}
stop_registry() { kill "$REGPID"; wait "$REGPID" 2>/dev/null || true; REGPID=; }
start_registry
docker-registry --version || true
REG=127.0.0.1:$PORT
export SSL_CERT_FILE="$WORK/reg.pem" # crane (Go) trusts the registry's certificate

policy() { # policy DIR: a host's policy trusting the example key and the registry
	mkdir -p "$1/keys"
	cp examples/keys/example.pub "$1/keys/"
	cat > "$1/ttsguard.yaml" <<YML
version: 1
ca_bundle: $WORK/reg.pem
sources:
  - oci://$REG/models/
signers:
  - name: example
    public_key: keys/example.pub
models:
  tiny-vits:
    signature: required
YML
}

step "publisher: pull the bundled example, push it"
policy "$WORK/pub"
export TTSGUARD_HOME="$WORK/pub/store"
"$TG" pull --policy "$WORK/pub/ttsguard.yaml" --name tiny-vits examples/tiny-vits | head -3
"$TG" push --policy "$WORK/pub/ttsguard.yaml" tiny-vits "oci://$REG/models/tiny-vits:v1" | tee "$WORK/push.out"
MANIFEST=$(sed -n 's/^  manifest  //p' "$WORK/push.out")
[ -n "$MANIFEST" ] || fail "no manifest digest"

step "interop: crane manifest, oras discover"
crane manifest "$REG/models/tiny-vits:v1" | tee "$WORK/manifest.json"
grep -q 'application/vnd.cncf.model.config.v1+json' "$WORK/manifest.json" || fail "crane: no ModelPack config"
grep -q '"org.cncf.model.filepath":"model_file.pth"' "$WORK/manifest.json" || fail "crane: no file path annotation"
[ "$(crane digest "$REG/models/tiny-vits:v1")" = "$MANIFEST" ] || fail "crane digest differs from the pushed manifest"
oras discover --ca-file "$WORK/reg.pem" "$REG/models/tiny-vits:v1" | tee "$WORK/discover.out"
grep -q 'application/vnd.dev.sigstore.bundle.v0.3+json' "$WORK/discover.out" || fail "oras discover: no bundle referrer"
crane ls "$REG/models/tiny-vits" | tee "$WORK/tags.out"
grep -q "^sha256-" "$WORK/tags.out" && echo "(referrers tag scheme: distribution 2.8 has no referrers API)"

step "host: pull by tag, check"
policy "$WORK/host"
export TTSGUARD_HOME="$WORK/host/store"
"$TG" pull --policy "$WORK/host/ttsguard.yaml" --name tiny-vits "oci://$REG/models/tiny-vits:v1" | tee "$WORK/pull.out"
grep -q 'gate signature ok: verified: signer "example"' "$WORK/pull.out" || fail "signature not verified"
grep -q "manifest $MANIFEST" "$WORK/pull.out" || fail "pull did not report the manifest"
"$TG" check --policy "$WORK/host/ttsguard.yaml" tiny-vits | tee "$WORK/check.out"
grep -q "manifest $MANIFEST" "$WORK/check.out" || fail "check does not report the pinned manifest"

step "registry stopped: the pull fails cleanly; restarted: it succeeds"
policy "$WORK/host2"
export TTSGUARD_HOME="$WORK/host2/store"
stop_registry
if "$TG" pull --policy "$WORK/host2/ttsguard.yaml" --name tiny-vits "oci://$REG/models/tiny-vits:v1" >"$WORK/down.out" 2>&1; then
	fail "a pull from a stopped registry succeeded"
fi
tail -1 "$WORK/down.out"
[ ! -e "$WORK/host2/ttsguard.lock" ] || fail "a failed pull wrote the lock file"
start_registry
"$TG" pull --policy "$WORK/host2/ttsguard.yaml" --name tiny-vits "oci://$REG/models/tiny-vits:v1" | head -1

step "a blob changed in the registry's storage is refused"
HEX=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' examples/tiny-vits/model_file.pth)
BLOB="$WORK/regdata/docker/registry/v2/blobs/sha256/${HEX:0:2}/$HEX/data"
[ -f "$BLOB" ] || fail "blob $BLOB not found"
python3 - "$BLOB" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b)//2] ^= 0x40; open(p, "wb").write(b)
PY
policy "$WORK/host3"
export TTSGUARD_HOME="$WORK/host3/store"
set +e
"$TG" pull --policy "$WORK/host3/ttsguard.yaml" --name tiny-vits "oci://$REG/models/tiny-vits:v1" >"$WORK/bad.out" 2>&1
rc=$?
set -e
tail -2 "$WORK/bad.out"
[ "$rc" = 1 ] || fail "a tampered blob: exit $rc, want 1"
grep -q 'model_file.pth' "$WORK/bad.out" || fail "the refusal does not name the file"

if [ -n "${E2E_OCI_BENCH_MB:-}" ]; then
	step "throughput: a ${E2E_OCI_BENCH_MB} MiB checkpoint, ttsguard pull vs oras cp (same run, best of 3)"
	M="$WORK/big"
	mkdir -p "$M"
	cp examples/tiny-vits/config.json "$M/"
	head -c $((E2E_OCI_BENCH_MB << 20)) /dev/urandom > "$M/model_file.pth"
	policy "$WORK/bpub"
	sed -i 's/signature: required/signature: optional/' "$WORK/bpub/ttsguard.yaml"
	export TTSGUARD_HOME="$WORK/bpub/store"
	python3 - "$M/model_file.pth" <<'PY'
import sys, zipfile, os
# random weights as a torch-zip-shaped checkpoint (a pickle with no globals and one stored data record)
p = sys.argv[1]; data = open(p, "rb").read()
with zipfile.ZipFile(p + ".tmp", "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    z.writestr("archive/data/0", data)
os.replace(p + ".tmp", p)
PY
	"$TG" pull --policy "$WORK/bpub/ttsguard.yaml" --name tiny-vits "$M" >/dev/null
	"$TG" push --policy "$WORK/bpub/ttsguard.yaml" tiny-vits "oci://$REG/models/big:v1" >/dev/null
	best() { sort -n | head -1; }
	for i in 1 2 3; do
		policy "$WORK/b$i"; sed -i 's/signature: required/signature: optional/' "$WORK/b$i/ttsguard.yaml"
		export TTSGUARD_HOME="$WORK/b$i/store"
		s=$(date +%s.%N); "$TG" pull --policy "$WORK/b$i/ttsguard.yaml" --name tiny-vits "oci://$REG/models/big:v1" >/dev/null; e=$(date +%s.%N)
		echo "$e - $s" | bc >> "$WORK/tg.times"
		rm -rf "$WORK/b$i"
		s=$(date +%s.%N); oras cp --from-ca-file "$WORK/reg.pem" "$REG/models/big:v1" --to-oci-layout "$WORK/layout$i:v1" >/dev/null; e=$(date +%s.%N)
		echo "$e - $s" | bc >> "$WORK/oras.times"
		rm -rf "$WORK/layout$i"
	done
	TGT=$(best < "$WORK/tg.times"); ORT=$(best < "$WORK/oras.times")
	printf 'ttsguard pull (fetch, verify, hash, scan, commit): best %.2f s = %.0f MiB/s\n' "$TGT" "$(echo "$E2E_OCI_BENCH_MB / $TGT" | bc -l)"
	printf 'oras cp --to-oci-layout (fetch, verify):           best %.2f s = %.0f MiB/s\n' "$ORT" "$(echo "$E2E_OCI_BENCH_MB / $ORT" | bc -l)"
fi

step "OK: push, interop, pull, check, registry outage, tampered blob (${SECONDS}s)"
