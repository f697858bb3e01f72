#!/usr/bin/env bash
# Makes a self-signed TLS pair for testing layerscoped's TLS (never for production: nothing vouches for it).
#   deploy/make-test-cert.sh OUT_DIR [--client] [NAME...]
# writes OUT_DIR/server.pem (certificate, valid 30 days) and OUT_DIR/server.key for the names given (default:
# localhost and 127.0.0.1; the client checks the address it dials against them). The server certificate is its own
# CA: clients trust it with `layerscope --tls-ca OUT_DIR/server.pem`. With --client it also writes a client CA
# (client-ca.pem, client-ca.key) and one client certificate it signed (client.pem, client.key), for
# `layerscoped --tls-client-ca OUT_DIR/client-ca.pem`.
set -euo pipefail

usage() { echo "usage: $0 OUT_DIR [--client] [NAME...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1
shift
client=false
names=()
for arg in "$@"; do
  case "$arg" in
    --client) client=true ;;
    -*) usage ;;
    *) names+=("$arg") ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(localhost 127.0.0.1)

# subjectAltName: IP addresses and DNS names are different entry kinds.
san=""
for name in "${names[@]}"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then entry="IP:$name"; else entry="DNS:$name"; fi
  san="${san:+$san,}$entry"
done

mkdir -p "$out"
umask 077  # the keys are secrets
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=${names[0]}" \
  -addext "subjectAltName=$san" -addext "basicConstraints=critical,CA:TRUE" \
  -keyout "$out/server.key" -out "$out/server.pem" 2>/dev/null

if $client; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=layerscope test client CA" \
    -addext "basicConstraints=critical,CA:TRUE" -keyout "$out/client-ca.key" -out "$out/client-ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=layerscope test client" \
    -keyout "$out/client.key" -out "$out/client.csr" 2>/dev/null
  openssl x509 -req -in "$out/client.csr" -CA "$out/client-ca.pem" -CAkey "$out/client-ca.key" -CAcreateserial \
    -days 30 -out "$out/client.pem" 2>/dev/null
  rm -f "$out/client.csr" "$out/client-ca.srl"
fi
if $client; then
  echo "wrote $out/server.pem, $out/server.key, $out/client-ca.pem, $out/client.pem and $out/client.key"
else
  echo "wrote $out/server.pem and $out/server.key"
fi
