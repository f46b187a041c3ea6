#!/bin/bash
# Test certificates as Redis's utils/gen-test-certs.sh makes them for its
# suite's --tls mode, in DIR (default tests/tls): ca.{crt,key} (a
# self-signed CA), redis.{crt,key} (no usage restriction), client.{crt,key}
# and server.{crt,key} (restricted to client and server use), redis.dh (DH
# parameters). Used by tests/transports.rs, bench/tls.sh and by hand for the
# Redis suite in --tls mode. DH_QUICK=1 takes the standard ffdhe2048 group
# (RFC 7919) as the DH parameters instead of generating new ones (minutes).
set -euo pipefail
dir=${1:-tests/tls}
mkdir -p "$dir"

generate_cert() {
    local name=$1 cn=$2
    shift 2
    [ -f "$dir/$name.key" ] || openssl genrsa -out "$dir/$name.key" 2048 2>/dev/null
    openssl req -new -sha256 -subj "/O=Redis Test/CN=$cn" -key "$dir/$name.key" |
        openssl x509 -req -sha256 -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
            -CAserial "$dir/ca.txt" -CAcreateserial -days 365 "$@" \
            -out "$dir/$name.crt" 2>/dev/null
}

[ -f "$dir/ca.key" ] || openssl genrsa -out "$dir/ca.key" 4096 2>/dev/null
openssl req -x509 -new -nodes -sha256 -key "$dir/ca.key" -days 3650 \
    -subj '/O=Redis Test/CN=Certificate Authority' -out "$dir/ca.crt"

cat >"$dir/openssl.cnf" <<_END_
[ server_cert ]
keyUsage = digitalSignature, keyEncipherment
nsCertType = server

[ client_cert ]
keyUsage = digitalSignature, keyEncipherment
nsCertType = client
_END_

generate_cert server "Server-only" -extfile "$dir/openssl.cnf" -extensions server_cert
generate_cert client "Client-only" -extfile "$dir/openssl.cnf" -extensions client_cert
generate_cert redis "Generic-cert"

if [ ! -f "$dir/redis.dh" ] && [ -n "${DH_QUICK:-}" ]; then
    openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 -out "$dir/redis.dh"
fi
[ -f "$dir/redis.dh" ] || openssl dhparam -out "$dir/redis.dh" 2048 2>/dev/null
