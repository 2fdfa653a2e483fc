#!/usr/bin/env bash
# Sessions per commit of the SQLite writer, beside the rate and the ACS's CPU per session:
# what a change to the group commit does to the groups. For each run: `acs serve` on a
# fresh store, acs-loadgen (20 parameters, DEVICES devices, CONCURRENCY in flight, WARMUP
# then DURATION seconds), then the store's counters from /metrics
# (acs_store_writes_total / acs_store_transactions_total, warm-up included). The
# environment passes through to `acs`, so one binary can be run with different settings.
#
#   bench/writer-groups.sh target/release/acs
#   RUNS=3 bench/writer-groups.sh /tmp/acs-before target/release/acs
#
# Settings (environment): RUNS (1, per binary, alternating), CONCURRENCY (64), DEVICES
# (10000), WARMUP (3), DURATION (12), BIN_DIR (target/release: acs-loadgen), ACS_EXTRA_CONFIG
# (TOML lines appended to the generated config).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-1}
CONCURRENCY=${CONCURRENCY:-64}
DEVICES=${DEVICES:-10000}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-12}
BIN_DIR=${BIN_DIR:-target/release}
ACS_EXTRA_CONFIG=${ACS_EXTRA_CONFIG:-}
(($# >= 1)) || { echo "usage: bench/writer-groups.sh ACS_BINARY..." >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/acs-groups.XXXXXX")
PID=
cleanup() {
    [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

run() {
    local bin=$1 dir port api
    dir=$(mktemp -d "$TMP/run.XXXXXX")
    port=$(free_port)
    api=$(free_port)
    mkdir -p "$dir/data"
    {
        echo "data_dir = \"$dir/data\""
        echo "cwmp.listen = \"127.0.0.1:$port\""
        echo "cwmp.auth.enabled = false"
        echo "cwmp.set_connection_request_credentials = false"
        echo "provisioning.default_presets = false"
        echo "api.listen = \"127.0.0.1:$api\""
        echo "api.metrics_public = true"
        echo "log.level = \"warn\""
        [[ -n "$ACS_EXTRA_CONFIG" ]] && echo "$ACS_EXTRA_CONFIG"
    } >"$dir/acs.toml"
    "$bin" serve --config "$dir/acs.toml" >"$dir/acs.log" 2>&1 &
    PID=$!
    wait_for_port "$port" "$PID" || { tail -n 20 "$dir/acs.log" >&2; return 1; }
    "$BIN_DIR/acs-loadgen" --url "http://127.0.0.1:$port/" --concurrency "$CONCURRENCY" \
        --parameters 20 --devices "$DEVICES" --warmup "$WARMUP" --duration "$DURATION" \
        --server-pid "$PID" --json >"$dir/loadgen.json"
    curl -fsS "http://127.0.0.1:$api/metrics" >"$dir/metrics.txt"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
    python3 - "$dir" "$(basename "$bin")" <<'PY'
import json, re, sys
d, name = sys.argv[1], sys.argv[2]
r = json.load(open(f"{d}/loadgen.json"))
m = open(f"{d}/metrics.txt").read()
def counter(n):
    return float(re.search(rf"^{n} (\S+)$", m, re.M).group(1))
writes, commits = counter("acs_store_writes_total"), counter("acs_store_transactions_total")
cpu = r["server_cpu"]["ms_per_session"]
print(f"| {name} | {r['sessions_per_s']:,.0f} | {r['latency']['p50_ms']:.2f} | "
      f"{r['latency']['p99_ms']:.2f} | {cpu:.3f} | {writes / commits:.1f} | {r['sessions_failed']} |")
# CI runs this in a quick mode to check that it works: a failed session fails the run.
sys.exit(1 if r["sessions_failed"] or not r["sessions_ok"] else 0)
PY
}

echo "| binary | sessions/s | p50 ms | p99 ms | ACS CPU ms / session | sessions per commit | failed |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for _ in $(seq 1 "$RUNS"); do
    for bin in "$@"; do
        run "$bin"
    done
done
