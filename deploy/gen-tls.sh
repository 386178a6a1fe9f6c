#!/bin/bash
# gen-tls.sh - make a private CA and the executors' TLS certificate for deploy/compose.tls.yaml,
# when missing (never overwrites). Needs the openssl CLI.
#
#   deploy/gen-tls.sh [DIR]      default: deploy/secrets/tls
#
# DIR/ca.pem        the CA certificate the gateway verifies executors against (public)
# DIR/ca.key        the CA's key: only to issue certificates again; no container gets it
# DIR/executor.pem  the executors' certificate, issued by the CA for the names the gateway
#                   dials: python, javascript, cpp (the Compose service names)
# DIR/executor.key  its key (read by the executors, root in their containers)
#
# EC P-256 keys, certificates valid for 825 days. Run as root, the keys are 0400 root and the
# certificates 0444; the directory is 0700 either way (the host's other users stay out).
set -euo pipefail

NAMES=(python javascript cpp)
DAYS=825
DIR=${1:-$(dirname "$0")/secrets/tls}

command -v openssl >/dev/null 2>&1 || { echo "gen-tls: error: the openssl CLI is missing" >&2; exit 1; }
if [ -s "$DIR/ca.pem" ] && [ -s "$DIR/executor.pem" ] && [ -s "$DIR/executor.key" ]; then
    echo "gen-tls: $DIR has a CA and the executor certificate; keeping them"
    exit 0
fi
mkdir -p "$DIR"
chmod 0700 "$DIR"
work=$(mktemp -d "$DIR/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
san=$(printf 'DNS:%s,' "${NAMES[@]}")
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

openssl req -x509 "${ec[@]}" -keyout "$work/ca.key" -out "$work/ca.pem" -days "$DAYS" \
    -subj "/CN=codegate executors CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req "${ec[@]}" -keyout "$work/executor.key" -out "$work/executor.csr" \
    -subj "/CN=codegate executor" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
    "${san%,}" >"$work/ext.cnf"
openssl x509 -req -in "$work/executor.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -out "$work/executor.pem" -days "$DAYS" -extfile "$work/ext.cnf" 2>/dev/null
openssl verify -CAfile "$work/ca.pem" "$work/executor.pem" >/dev/null

chmod 0444 "$work/ca.pem" "$work/executor.pem"
chmod 0400 "$work/ca.key" "$work/executor.key"
for f in ca.key ca.pem executor.key executor.pem; do
    mv -f "$work/$f" "$DIR/$f"
done
echo "gen-tls: wrote $DIR/{ca.pem,ca.key,executor.pem,executor.key} (names: ${NAMES[*]})"
