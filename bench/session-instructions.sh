#!/usr/bin/env bash
# Instructions the ACS process executes per periodic session, counted by callgrind: the
# same count for the same binary and load whatever else the machine does, so a change
# worth 3% shows where wall-clock runs on this shared machine (noise ±8%) cannot.
#
# For each binary: start `acs serve` under callgrind on a fresh SQLite store, run
# acs-loadgen's sessions (20 parameters, DEVICES devices, round robin) to count FEW and
# then, in a second process, MANY sessions; the difference divided by MANY - FEW is the
# steady-state count of one session (start-up, migrations and each device's first session
# cancel out). User space only: the kernel's TCP work is not counted (see BENCHMARKS.md
# for the split). Under valgrind the threads run one at a time, so the writer's groups are
# smaller than at full speed: compare binaries with each other, not with sessions.sh.
#
#   bench/session-instructions.sh /tmp/acs-before target/release/acs
#
# Settings (environment): FEW (1000), MANY (3000), DEVICES (200), CONCURRENCY (16),
# BIN_DIR (target/release: acs-loadgen). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

FEW=${FEW:-1000}
MANY=${MANY:-3000}
DEVICES=${DEVICES:-200}
CONCURRENCY=${CONCURRENCY:-16}
BIN_DIR=${BIN_DIR:-target/release}
(($# >= 1)) || { echo "usage: bench/session-instructions.sh ACS_BINARY..." >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/acs-icount.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Instructions of one `acs serve` process serving $2 sessions; binary $1.
count() {
    local bin=$1 sessions=$2 dir port api pid
    dir=$(mktemp -d "$TMP/run.XXXXXX")
    port=$(free_port)
    api=$(free_port)
    mkdir -p "$dir/data"
    cat >"$dir/acs.toml" <<EOF
data_dir = "$dir/data"
cwmp.listen = "127.0.0.1:$port"
cwmp.auth.enabled = false
cwmp.set_connection_request_credentials = false
provisioning.default_presets = false
api.listen = "127.0.0.1:$api"
log.level = "warn"
EOF
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
        "$bin" serve --config "$dir/acs.toml" >"$dir/valgrind.log" 2>&1 &
    pid=$!
    START_TIMEOUT=120 wait_for_port "$port" "$pid" || {
        echo "acs did not start under valgrind (see $dir/valgrind.log)" >&2
        cat "$dir/valgrind.log" >&2
        return 1
    }
    "$BIN_DIR/acs-loadgen" --url "http://127.0.0.1:$port/" --concurrency "$CONCURRENCY" \
        --parameters 20 --devices "$DEVICES" --sessions "$sessions" --json >"$dir/loadgen.json"
    kill -TERM "$pid"
    wait "$pid" || true
    python3 - "$dir/loadgen.json" "$sessions" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r["sessions_failed"] or r["sessions_ok"] != int(sys.argv[2]):
    sys.exit(f"sessions: {r['sessions_ok']} ok, {r['sessions_failed']} failed")
PY
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dir/callgrind.out" | head -1
}

echo "| binary | instructions per session |"
echo "|---|---:|"
for bin in "$@"; do
    few=$(count "$bin" "$FEW")
    many=$(count "$bin" "$MANY")
    python3 -c "print(f'| $(basename "$bin") | {($many - $few) / ($MANY - $FEW):,.0f} |')"
done
