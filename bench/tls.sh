#!/bin/sh
# Issue 19's TLS target side by side: `redis-benchmark --tls -t set,get -P 16`
# against reddish and redis-server, both with the same generated certificates
# and a client certificate, reporting throughput and CPU per request with
# their ratios (bench/compare.py --tls). Extra arguments go to compare.py,
# e.g. `bench/tls.sh --quick --no-build`.
exec "$(dirname "$0")/compare.py" --tls --only setget-P16 --no-memory "$@"
