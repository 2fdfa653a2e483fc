#!/usr/bin/env bash
# cpe-sim at scale: memory and start-up time of 100,000 devices, and the sessions per
# second it can drive. Servers: acs-baseline (fixed bytes: InformResponse, then 204; the
# cheapest possible ACS, so the simulator is what is measured) and acs serve (auth on,
# Digest, SQLite) for the real figure. Client and server share the machine's cores.
#
#   bench/cpe-sim.sh                     # everything, REPEAT=3 times each
#   RUNS="scale" bench/cpe-sim.sh        # only some of: scale drive-baseline drive-acs
#
# Settings (environment): SCALE_DEVICES (100000), SCALE_SECS (60: run length of a scale
# run; the start-up time is when the last device finished its first session),
# DRIVE_DEVICES (20000, each informing every second), DRIVE_SECS (20), REPEAT (3),
# BUILD (1), KEEP (0).
# Prints one Markdown table row per run; raw summaries (JSON) go to target/bench-cpe-sim/.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE_DEVICES=${SCALE_DEVICES:-100000}
SCALE_SECS=${SCALE_SECS:-60}
DRIVE_DEVICES=${DRIVE_DEVICES:-20000}
DRIVE_SECS=${DRIVE_SECS:-20}
REPEAT=${REPEAT:-3}
RUNS=${RUNS:-scale drive-baseline drive-acs}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}
USER_NAME=fleet
PASSWORD=cpe-sim-bench-secret

OUT=target/bench-cpe-sim
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cpe-sim-bench.XXXXXX")
SERVER_PID=""

cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [[ "$KEEP" == 1 ]] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "cpe-sim.sh: $*" >&2; }
has_run() { [[ " $RUNS " == *" $1 "* ]]; }
# shellcheck source=bench/lib.sh
source bench/lib.sh  # (the working directory is the repository here)
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

if [[ "$BUILD" == 1 ]]; then
    log "building cpe-sim, acs-baseline and acs (release)"
    cargo build --release -q -p cpe-sim -p loadgen -p acs
fi

start_baseline() {
    PORT=$(free_port)
    target/release/acs-baseline --listen "127.0.0.1:$PORT" >"$OUT/baseline.log" 2>&1 &
    SERVER_PID=$!
    wait_for_port "$PORT" "$SERVER_PID"
}

start_acs() {
    PORT=$(free_port)
    local api dir
    api=$(free_port)
    dir="$TMP/acs-$1"
    mkdir -p "$dir/data"
    cat >"$dir/acs.toml" <<EOF
data_dir = "$dir/data"
[cwmp]
listen = "127.0.0.1:$PORT"
[cwmp.auth]
default_username = "$USER_NAME"
default_password = "$PASSWORD"
[api]
listen = "127.0.0.1:$api"
[log]
level = "warn"
EOF
    target/release/acs serve --config "$dir/acs.toml" >"$dir/acs.log" 2>&1 &
    SERVER_PID=$!
    wait_for_port "$PORT" "$SERVER_PID"
}

# Runs cpe-sim (arguments after the run name) against 127.0.0.1:$PORT, sampling its RSS
# every second; prints the summary file name.
run_sim() {
    local name=$1
    shift
    local json="$OUT/$name.json"
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/$name.time" \
        target/release/cpe-sim --acs-url "http://127.0.0.1:$PORT/" \
        --username "$USER_NAME" --password "$PASSWORD" --get-rpc-methods never \
        --cr-listen 127.0.0.1:0 --quiet --json "$@" >"$json" 2>"$OUT/$name.log" &
    local pid=$!
    wait "$pid" || log "$name: cpe-sim exited $?"
    echo "$json"
}

ROWS=()
row() {
    # $1 kind, $2 summary json, $3 time file
    ROWS+=("$(python3 - "$@" <<'PY'
import json, sys
kind, path, timef = sys.argv[1:4]
s = json.load(open(path))
wall, user, sys_, maxrss_kb = open(timef).read().split()[-4:]
cpu = float(user) + float(sys_)
rss_mb = int(maxrss_kb) / 1024
ok = s["sessions_ok"]
fail = s["sessions_failed"]
t = s.get("all_informed_secs")
lat = s["latency_ms"]
print(f"| {kind} | {s['devices']:,} | {'—' if t is None else f'{t:.2f}'} | {rss_mb:,.0f} "
      f"| {rss_mb * 1024 * 1024 / s['devices']:,.0f} | {ok:,} | {fail:,} | {s['sessions_per_sec']:,.0f} "
      f"| {lat['p50']:.2f} | {lat['p99']:.2f} | {cpu * 1000 / max(ok, 1):.3f} |")
PY
)")
}

for i in $(seq 1 "$REPEAT"); do
    if has_run scale; then
        start_baseline
        log "scale run $i: $SCALE_DEVICES devices at once against acs-baseline"
        j=$(run_sim "scale-$i" --devices "$SCALE_DEVICES" --ramp-up 0 \
            --periodic-interval 86400 --max-sessions 512 --duration "$SCALE_SECS")
        row "scale vs acs-baseline" "$j" "$OUT/scale-$i.time"
        stop_server
    fi
    if has_run drive-baseline; then
        start_baseline
        log "drive run $i: $DRIVE_DEVICES devices informing every second against acs-baseline"
        j=$(run_sim "drive-baseline-$i" --devices "$DRIVE_DEVICES" --ramp-up 1 \
            --periodic-interval 1 --max-sessions 256 --duration "$DRIVE_SECS")
        row "periodic 1 s vs acs-baseline" "$j" "$OUT/drive-baseline-$i.time"
        stop_server
    fi
    if has_run drive-acs; then
        start_acs "$i"
        log "drive run $i: $DRIVE_DEVICES devices informing every second against acs serve"
        j=$(run_sim "drive-acs-$i" --devices "$DRIVE_DEVICES" --ramp-up 1 \
            --periodic-interval 1 --max-sessions 256 --duration "$DRIVE_SECS")
        row "periodic 1 s vs acs serve (Digest)" "$j" "$OUT/drive-acs-$i.time"
        stop_server
    fi
done

echo "| run | devices | all informed after (s) | peak RSS (MB) | RSS per device (B) | sessions ok | failed | sessions/s | p50 ms | p99 ms | cpe-sim CPU ms per session |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
