#!/usr/bin/env bash
# A fleet simulated on one machine (outside CI; issue 12): one real registry (Debian's docker-registry,
# CNCF distribution 2.8, TLS with a certificate made here, a login required: htpasswd) and N hosts, each its
# own store, policy and lock file, as N replicas' init containers would be. Everyone logs in with the
# credentials of $DOCKER_CONFIG/config.json, as OCI clients do.
#   0. a host with a wrong password is refused (401), and the password shows in no output
#   1. the publisher pushes v1 of a signed model to oci://REG/models/tiny-vits:stable
#   2. every host pulls it (in parallel) and checks it: the time for the fleet to converge on v1
#   3. the publisher re-signs a v2 and moves the tag; a plain pull on a host is refused (a moved tag is a
#      pin change), then every host runs `lock update` (in parallel) and checks: the time to converge on v2;
#      each host's check reports v2's manifest digest
#   4. a TUF update channel (ttsguard channel, served by a static HTTPS server): the publisher publishes v3
#      there, every host runs `ttsguard update` (in parallel): the time to converge on v3; a hostile mirror
#      that replays the channel's older state to one host is refused (rollback)
#   5. the registry dies while one host pulls a larger model: the pull fails cleanly (no pin, nothing
#      stored); with the registry back the same pull succeeds
# Env: E2E_FLEET_N (hosts, default 3), E2E_FLEET_PORT (default 5444), E2E_FLEET_MB (the larger model of
# step 4, default 256), E2E_KEEP=1 keeps the work folder. Needs: apt-get install -y docker-registry.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
command -v docker-registry >/dev/null || { echo "needs docker-registry: apt-get install -y docker-registry"; exit 2; }
N=${E2E_FLEET_N:-3}
[ "$N" -ge 3 ] || { echo "E2E_FLEET_N must be at least 3"; exit 2; }
W=$(mktemp -d /tmp/ttsguard-e2e-fleet-XXXXXX)
RPID=
finish() {
	[ -z "$RPID" ] || kill "$RPID" 2>/dev/null || true
	if [ "${E2E_KEEP:-}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap finish EXIT
say() { printf '\n== [%4ss] %s\n' "$SECONDS" "$*"; }
die() { echo "FAIL: $*"; exit 1; }
now() { date +%s.%N; }

say "build ttsguard (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -o "$W/ttsguard" ./cmd/ttsguard
tg() { "$W/ttsguard" "$@"; }

say "docker-registry on 127.0.0.1 with a certificate made here"
PORT=${E2E_FLEET_PORT:-5444}
REG=127.0.0.1:$PORT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=fleet registry" \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$W/tls.key" -out "$W/tls.pem" 2>/dev/null
# The login: a bcrypt htpasswd entry for the registry (cost 5: distribution checks it on every request, and
# at the usual cost 12 that alone takes a quarter second a request here), the same login in the Docker
# configuration.
USER=fleet
PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
/usr/bin/python3 -W ignore -c 'import crypt, sys; print(sys.argv[1] + ":" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)).replace("$2b$", "$2a$", 1))' \
	"$USER" "$PASS" > "$W/htpasswd"
docker_login() { # docker_login DIR PASSWORD
	mkdir -p "$1"
	printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$REG" "$(printf '%s:%s' "$USER" "$2" | base64 -w0)" > "$1/config.json"
}
docker_login "$W/docker" "$PASS"
export DOCKER_CONFIG="$W/docker"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s, tls: {certificate: %s, key: %s}}\nauth: {htpasswd: {realm: fleet, path: %s}}\n' \
	"$W/data" "$REG" "$W/tls.pem" "$W/tls.key" "$W/htpasswd" > "$W/config.yml"
registry_up() {
	docker-registry serve "$W/config.yml" >>"$W/registry.log" 2>&1 &
	RPID=$!
	local i
	for i in $(seq 100); do
		# Up when it answers /v2/ with 401 (a login is required) or 200.
		case $(curl -s -o /dev/null -w '%{http_code}' --cacert "$W/tls.pem" "https://$REG/v2/") in 401 | 200) return 0 ;; esac
		sleep 0.1
	done
	cat "$W/registry.log"
	die "docker-registry did not answer"
}
registry_down() { kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=; }
registry_up

# host NAME: a folder with a policy that trusts the example key and the registry, and a store.
host() {
	mkdir -p "$W/$1"
	cat > "$W/$1/ttsguard.yaml" <<YML
version: 1
store: $W/$1/store
ca_bundle: $W/tls.pem
sources:
  - oci://$REG/models/
signers:
  - name: example
    public_key: $PWD/examples/keys/example.pub
models:
  tiny-vits:
    signature: required
YML
}
as() { local h=$1; shift; tg "$1" --policy "$W/$h/ttsguard.yaml" "${@:2}"; }

# publish VERSION DIR TAG: a publisher (its own store per version: a build job) stores DIR (signed) as
# tiny-vits and pushes it to TAG.
publish() {
	host "pub-$1"
	as "pub-$1" pull --name tiny-vits "$2" >/dev/null
	as "pub-$1" push tiny-vits "oci://$REG/models/tiny-vits:$3" > "$W/push-$1.out"
	sed -n 's/^  manifest  //p' "$W/push-$1.out"
}
# converge LABEL CMD...: runs CMD HOST for every host in parallel; prints the wall time.
converge() {
	local label=$1 i s e pids=()
	shift
	s=$(now)
	for i in $(seq "$N"); do
		"$@" "h$i" > "$W/h$i-$label.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$W/h$((i + 1))-$label.out"; die "$label on h$((i + 1))"; }
	done
	e=$(now)
	printf '%s: %d hosts converged in %.2f s\n' "$label" "$N" "$(echo "$e - $s" | bc -l)" | tee -a "$W/times"
}
pull_check() { as "$1" pull --name tiny-vits "oci://$REG/models/tiny-vits:stable" && as "$1" check tiny-vits; }
update_check() { as "$1" lock update tiny-vits && as "$1" check tiny-vits; }

say "publisher: v1 to tiny-vits:stable"
V1=$(publish v1 examples/tiny-vits stable)
[ -n "$V1" ] || die "no manifest digest for v1"
echo "v1 manifest $V1"

say "a host with a wrong password is refused"
host hw
docker_login "$W/docker-wrong" "not-$PASS"
set +e
DOCKER_CONFIG="$W/docker-wrong" as hw pull --name tiny-vits "oci://$REG/models/tiny-vits:stable" > "$W/wrong.out" 2>&1
rc=$?
set -e
tail -1 "$W/wrong.out"
[ "$rc" != 0 ] || die "a wrong password pulled"
grep -q 401 "$W/wrong.out" || die "the refusal does not show the registry's 401"
! grep -rqF -e "$PASS" "$W/wrong.out" "$W/hw" || die "the password shows in the output or the host's files"
[ ! -e "$W/hw/ttsguard.lock" ] || die "a refused pull wrote the lock file"

say "$N hosts pull v1 and check it (in parallel)"
for i in $(seq "$N"); do host "h$i"; done
converge v1 pull_check
for i in $(seq "$N"); do
	grep -q "manifest $V1" "$W/h$i-v1.out" || die "h$i does not report v1's manifest"
	grep -q 'check OK' "$W/h$i-v1.out" || die "h$i: check not OK"
done

say "publisher: a re-signed v2 moves tiny-vits:stable"
cp -r examples/tiny-vits "$W/v2"
rm "$W/v2/model.sig"
printf '# tiny-vits v2\nrelease notes\n' > "$W/v2/README.md"
tg sign key --private-key examples/keys/example.key "$W/v2" >/dev/null
V2=$(publish v2 "$W/v2" stable)
[ -n "$V2" ] && [ "$V2" != "$V1" ] || die "v2 has no new manifest digest"
echo "v2 manifest $V2"

say "a plain pull on a host is refused: the tag moved (a pin change)"
set +e
as h1 pull --name tiny-vits "oci://$REG/models/tiny-vits:stable" > "$W/moved.out" 2>&1
rc=$?
set -e
tail -1 "$W/moved.out"
[ "$rc" = 1 ] || die "a moved tag: exit $rc, want 1"
grep -q 'lock update tiny-vits' "$W/moved.out" || die "the refusal does not say how to accept the move"

say "$N hosts accept v2 with lock update and check it (in parallel)"
converge v2 update_check
for i in $(seq "$N"); do
	grep -q "manifest $V2" "$W/h$i-v2.out" || die "h$i does not report v2's manifest"
	grep -q '"manifest": "'"$V2"'"' "$W/h$i/ttsguard.lock" || die "h$i's lock file does not pin v2"
done

say "a TUF channel: v3 published there; every host follows it with update (in parallel)"
mkdir -p "$W/keys"
for role in root targets snapshot timestamp; do tg keygen --out "$W/keys/$role" >/dev/null; done
keys=(--targets-key "$W/keys/targets.key" --snapshot-key "$W/keys/snapshot.key" --timestamp-key "$W/keys/timestamp.key")
tg channel init "$W/chan" --root-key "$W/keys/root.key" "${keys[@]}" | tail -1
tg channel publish "$W/chan" tiny-vits --version 2.0 --from "$W/v2" "${keys[@]}" "oci://$REG/models/tiny-vits@$V2" | head -1
cp -r "$W/chan" "$W/chan-v2" # what a hostile mirror will replay
# serve DIR PORT: a static HTTPS server for a channel folder (the registry's certificate is for 127.0.0.1)
serve() {
	/usr/bin/python3 - "$1" "$2" "$W/tls.pem" "$W/tls.key" >>"$W/serve.log" 2>&1 <<'PY' &
import functools, http.server, ssl, sys
d, port, cert, key = sys.argv[1:]
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), functools.partial(http.server.SimpleHTTPRequestHandler, directory=d))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
	SERVERS+=($!)
	local i
	for i in $(seq 50); do curl -sf --cacert "$W/tls.pem" "https://127.0.0.1:$2/root.json" >/dev/null && return 0; sleep 0.1; done
	die "the channel server on $2 did not start"
}
SERVERS=()
trap 'kill "${SERVERS[@]}" 2>/dev/null || true; finish' EXIT
CPORT=$((PORT + 1))
serve "$W/chan" "$CPORT"
serve "$W/chan-v2" "$((PORT + 2))"
ROOTPIN=$(sha256sum "$W/chan/root.json" | cut -d' ' -f1)
follow() { # follow HOST URL: the host's policy follows the channel at URL
	cp "$W/chan/root.json" "$W/$1/channel-root.json"
	printf 'channels:\n  - name: prod\n    url: %s\n    root: channel-root.json\n    root_sha256: %s\n    models: [tiny-vits]\n' "$2" "$ROOTPIN" >> "$W/$1/ttsguard.yaml"
}
for i in $(seq "$N"); do follow "h$i" "https://127.0.0.1:$CPORT"; done
mkdir -p "$W/v3"
cp "$W/v2"/config.json "$W/v2"/model_file.pth "$W/v2"/README.md "$W/v3/"
printf 'v3: from the channel\n' > "$W/v3/CHANGELOG.txt"
tg sign key --private-key examples/keys/example.key "$W/v3" >/dev/null
V3=$(publish v3 "$W/v3" v3)
tg channel publish "$W/chan" tiny-vits --version 3.0 --from "$W/v3" "${keys[@]}" "oci://$REG/models/tiny-vits@$V3" | head -1
update_check() { as "$1" update tiny-vits && as "$1" check tiny-vits; }
converge v3 update_check
for i in $(seq "$N"); do
	grep -q 'updated *tiny-vits -> 3.0' "$W/h$i-v3.out" || { cat "$W/h$i-v3.out"; die "h$i did not move to 3.0"; }
	grep -q "manifest $V3" "$W/h$i-v3.out" || die "h$i does not report v3's manifest"
done
say "a hostile mirror replays the channel's older state to h1: refused"
sed -i "s|url: https://127.0.0.1:$CPORT|url: https://127.0.0.1:$((PORT + 2))|" "$W/h1/ttsguard.yaml"
set +e
as h1 update tiny-vits > "$W/mirror.out" 2>&1
rc=$?
set -e
tail -1 "$W/mirror.out"
[ "$rc" = 1 ] || die "the mirror's rollback: exit $rc, want 1"
grep -q 'rollback attack refused' "$W/mirror.out" || die "the refusal does not name the rollback"
grep -q '"manifest": "'"$V3"'"' "$W/h1/ttsguard.lock" || die "the rollback moved h1's pin"

MB=${E2E_FLEET_MB:-256}
say "the registry dies while a host pulls a ${MB} MiB model; back up, the pull succeeds"
mkdir -p "$W/big"
cp examples/tiny-vits/config.json "$W/big/"
python3 - "$W/big/model_file.pth" "$MB" <<'PY'
import os, sys, zipfile
# random weights in a torch-zip-shaped checkpoint: a pickle without globals and one stored data record
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    z.writestr("archive/data/0", os.urandom(int(sys.argv[2]) << 20))
PY
tg sign key --private-key examples/keys/example.key "$W/big" >/dev/null
host pub
as pub pull --name big "$W/big" >/dev/null
as pub push big "oci://$REG/models/big:v1" >/dev/null
host hx
sed -i 's/^  tiny-vits:/  big:/' "$W/hx/ttsguard.yaml"
as hx pull --name big "oci://$REG/models/big:v1" > "$W/outage.out" 2>&1 &
PULL=$!
# Stop the registry once the download is under way: the staging folder holds part of the checkpoint.
for _ in $(seq 200); do
	got=$(du -sm "$W/hx/store/tmp" 2>/dev/null | cut -f1 || echo 0)
	[ "${got:-0}" -ge 16 ] && break
	sleep 0.05
done
registry_down
set +e
wait "$PULL"
rc=$?
set -e
tail -1 "$W/outage.out"
[ "$rc" != 0 ] || die "a pull through an outage succeeded (the download finished first: raise E2E_FLEET_MB)"
[ ! -e "$W/hx/ttsguard.lock" ] || die "a failed pull wrote the lock file"
[ -z "$(ls -A "$W/hx/store/tmp" 2>/dev/null)" ] || die "staging left behind: $(ls "$W/hx/store/tmp")"
if as hx ls 2>/dev/null | grep -q '^big'; then die "a failed pull stored the model"; fi
registry_up
s=$(now)
as hx pull --name big "oci://$REG/models/big:v1" | head -1
printf 'pull of a %d MiB model after the outage: %.2f s\n' "$MB" "$(echo "$(now) - $s" | bc -l)" | tee -a "$W/times"

if grep -rqF -e "$PASS" "$W"/*.out "$W"/h*/ "$W"/pub*/; then die "the password shows in an output or a store"; fi
say "OK: $N hosts converged on v1 and v2 (logged in, by tag and lock update) and v3 (TUF channel, update); a wrong password, a moved tag and a mirror's rollback refused; an outage mid-pull failed cleanly and recovered"
cat "$W/times"
