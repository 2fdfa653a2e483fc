#!/usr/bin/env bash
# CWMP sessions per second of the ACS, compared with a server that answers the same exchanges
# with fixed bytes (acs-baseline). Each run: start the server, wait for its CWMP port, run
# acs-loadgen against it (periodic Inform -> InformResponse -> empty POST -> 204, one new TCP
# connection per session), read the server's CPU time in the measurement window (acs-loadgen
# samples /proc/<pid>/stat at both ends) and its peak RSS (/proc/<pid>/status VmHWM), stop it.
# Prints one Markdown table row per run.
#
#   bench/sessions.sh                       # baseline, acs, acs with Digest
#   RUNS="baseline" bench/sessions.sh       # only some of: baseline acs acs-digest
#                                           #   acs-pg acs-pg-2nodes acs-presets
#                                           #   acs-presets-idle
#
# acs-pg runs the ACS on PostgreSQL (PG_URL, default postgres://postgres@127.0.0.1:5432/test,
# a schema of its own dropped after; needs psql); acs-pg-2nodes runs two ACS processes on
# one schema, acs-loadgen sending sessions to each in turn (a round-robin load balancer),
# and reports their CPU time and peak RSS summed. acs-presets is acs with three presets put
# through the API before the load (bench/presets/: a 20-line provision `classify` on
# devices whose software version matches ^4\., the built-in `tag` on `2 PERIODIC`
# sessions, and a preset whose precondition no device meets); comparing its server CPU per
# 1,000 sessions with acs's gives the cost of provisioning per session. acs-presets-idle puts
# only the preset no device meets: what loading each device's data for presets costs alone.
#   CONCURRENCY=16 DURATION=10 bench/sessions.sh
#
# CI runs a quick mode that checks that every run works, not how fast (exit 1 if a run
# failed or a session did):
#   QUICK=1 BUILD=0 BIN_DIR=target/debug bench/sessions.sh
#
# Settings (environment): QUICK (1: CONCURRENCY 4, DEVICES 50, DURATION 2, WARMUP 1, RUNS
# "baseline acs acs-digest acs-presets" unless set), BIN_DIR (target/release: where the
# binaries are), CONCURRENCY (64), PARAMETERS (20), DEVICES (10000), DURATION (20 s,
# measured), WARMUP (5 s, not measured), RATE (unset: unthrottled), LOADGEN_THREADS (unset:
# acs-loadgen's default), LOADGEN_ARGS (extra acs-loadgen arguments), BUILD (1: cargo build
# --release the binaries first; 0: use what is in target/release), ACS_BIN
# (target/release/acs), ACS_LOG_LEVEL (warn), ACS_EXTRA_CONFIG (TOML lines with dotted keys
# appended to the generated config, e.g. 'database.synchronous_full = false'), START_TIMEOUT
# (60 s for a server to accept connections), KEEP (1: keep the temporary directory).
# Raw acs-loadgen reports (JSON) and server logs go to target/bench-sessions/.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
if [[ "$QUICK" == 1 ]]; then
    CONCURRENCY=${CONCURRENCY:-4}
    DEVICES=${DEVICES:-50}
    DURATION=${DURATION:-2}
    WARMUP=${WARMUP:-1}
    RUNS=${RUNS:-baseline acs acs-digest acs-presets}
fi
BIN_DIR=${BIN_DIR:-target/release}
CONCURRENCY=${CONCURRENCY:-64}
PARAMETERS=${PARAMETERS:-20}
DEVICES=${DEVICES:-10000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
RATE=${RATE:-}
LOADGEN_THREADS=${LOADGEN_THREADS:-}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
RUNS=${RUNS:-baseline acs acs-digest}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
BUILD=${BUILD:-1}
ACS_BIN=${ACS_BIN:-$BIN_DIR/acs}
ACS_LOG_LEVEL=${ACS_LOG_LEVEL:-warn}
ACS_EXTRA_CONFIG=${ACS_EXTRA_CONFIG:-}
# The ACS reads ACS_* environment variables as configuration (and refuses unknown ones):
# the script's own settings stay out of its environment.
export -n ACS_BIN ACS_LOG_LEVEL ACS_EXTRA_CONFIG
START_TIMEOUT=${START_TIMEOUT:-60}
KEEP=${KEEP:-0}
DIGEST_USER=loadgen
DIGEST_PASSWORD=loadgen-bench-secret

OUT=target/bench-sessions
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/acs-bench.XXXXXX")
SERVER_PID=""
SERVER_PIDS=()
SCHEMAS=()

cleanup() {
    for pid in $SERVER_PID ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    for schema in ${SCHEMAS[@]+"${SCHEMAS[@]}"}; do
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>&1 || true
    done
    if [[ "$KEEP" == 1 ]]; then
        echo "kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

log() { echo "sessions.sh: $*" >&2; }

# shellcheck source=bench/lib.sh
source bench/lib.sh  # (the working directory is the repository here)

stop_server() {
    for pid in $SERVER_PID ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PID=""
    SERVER_PIDS=()
}

has_run() { [[ " $RUNS " == *" $1 "* ]]; }

if [[ "$BUILD" == 1 ]]; then
    log "building acs-loadgen and acs-baseline"
    cargo build --release -q -p loadgen
fi
ACS_OK=1
if has_run acs || has_run acs-digest || has_run acs-pg || has_run acs-pg-2nodes; then
    if [[ "$BUILD" == 1 ]]; then
        log "building acs"
        if ! cargo build --release -q -p acs >"$OUT/acs-build.log" 2>&1; then
            log "cargo build --release -p acs failed (see $OUT/acs-build.log)"
            ACS_OK=0
        fi
    fi
    if [[ ! -x "$ACS_BIN" ]]; then
        log "no ACS binary at $ACS_BIN"
        ACS_OK=0
    fi
fi

BASELINE_RATE=""
ROWS=()
NOTES=()

# Runs acs-loadgen against 127.0.0.1:$2 for target name $1, server pid $SERVER_PID, extra
# loadgen arguments after; appends the table row.
measure() {
    local name=$1 port=$2
    shift 2
    [[ ${#SERVER_PIDS[@]} -eq 0 ]] && SERVER_PIDS=("$SERVER_PID")
    local args=(--url "http://127.0.0.1:$port/" --concurrency "$CONCURRENCY"
        --parameters "$PARAMETERS" --devices "$DEVICES" --duration "$DURATION"
        --warmup "$WARMUP" --json)
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        args+=(--server-pid "$pid")
    done
    [[ -n "$RATE" ]] && args+=(--rate "$RATE")
    [[ -n "$LOADGEN_THREADS" ]] && args+=(--threads "$LOADGEN_THREADS")
    # shellcheck disable=SC2206
    [[ -n "$LOADGEN_ARGS" ]] && args+=($LOADGEN_ARGS)
    log "$name: acs-loadgen ${args[*]} $*"
    local rc=0
    "$BIN_DIR/acs-loadgen" "${args[@]}" "$@" >"$OUT/$name.json" || rc=$?
    if [[ $rc -ne 0 && $rc -ne 2 ]]; then
        ROWS+=("| $name | acs-loadgen failed (exit $rc) | | | | | | | |")
        return
    fi
    local hwm=0
    for pid in "${SERVER_PIDS[@]}"; do
        hwm=$((hwm + $(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
    done
    [[ "$hwm" == 0 ]] && hwm=""
    local out
    out=$(python3 - "$OUT/$name.json" "$name" "${hwm:-}" "$BASELINE_RATE" <<'PY'
import json, sys
path, name, hwm, baseline = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
r = json.load(open(path))
lat = r.get("latency") or {}
fmt = lambda v, p=2: "—" if v is None else f"{v:.{p}f}"
cpu = r.get("server_cpu") or {}
measured = r["sessions_ok"] + r["sessions_failed"]
cpu_per_k = cpu["seconds"] * 1000 / measured if cpu and measured else None
rss = int(hwm) / 1024 if hwm else None
rate = r["sessions_per_s"]
ratio = "1.00" if name == "baseline" else f"{rate / float(baseline):.2f}" if baseline else "—"
print(f"| {name} | {rate:,.0f} | {fmt(lat.get('p50_ms'))} | {fmt(lat.get('p99_ms'))} "
      f"| {fmt(lat.get('max_ms'))} | {r['sessions_failed']} | {fmt(cpu_per_k, 3)} "
      f"| {fmt(rss, 1)} | {ratio} |")
notes = []
if r["failures"]:
    notes.append("failures: " + ", ".join(f"{k}: {v}" for k, v in r["failures"].items()))
if r["exchanges_per_session"] and abs(r["exchanges_per_session"] - 2) > 1e-9:
    notes.append(f"exchanges/session {r['exchanges_per_session']:.2f} {r['exchanges']}")
if r["acs_requests"]:
    notes.append(f"ACS requests {r['acs_requests']}")
if r["sessions_without_cookie"]:
    notes.append(f"{r['sessions_without_cookie']} sessions without Set-Cookie")
gen = r.get("loadgen_cpu") or {}
if gen:
    notes.append(f"acs-loadgen CPU {gen['share_of_one_core'] * 100:.0f}% of one core")
print(f"{name}: " + "; ".join(notes))
print(f"{rate}")
PY
)
    ROWS+=("$(sed -n 1p <<<"$out")")
    NOTES+=("$(sed -n 2p <<<"$out")")
    if [[ "$name" == baseline ]]; then
        BASELINE_RATE=$(sed -n 3p <<<"$out")
    fi
}

if has_run baseline; then
    port=$(free_port)
    "$BIN_DIR/acs-baseline" --listen "127.0.0.1:$port" >"$OUT/baseline.log" 2>&1 &
    SERVER_PID=$!
    if wait_for_port "$port" "$SERVER_PID"; then
        measure baseline "$port"
    else
        ROWS+=("| baseline | did not start (see $OUT/baseline.log) | | | | | | | |")
    fi
    stop_server
fi

# Puts the benchmark's presets and provision into the ACS whose API listens on port $1.
put_presets() {
    local api=$1 config=$2 name=$3 token
    token=$("$ACS_BIN" token create --name bench --config "$config" 2>>"$OUT/acs-presets-presets.log" | tail -1)
    local base="http://127.0.0.1:$api" h="Authorization: Bearer $token"
    if [[ "$name" == acs-presets-idle ]]; then
        curl -fsS -X PUT -H "$h" "$base/presets/lab-reboot" \
            -d '{"precondition": {"_tags": "lab"}, "provisions": [["reboot"]]}' \
            >>"$OUT/acs-presets-presets.log" 2>&1
        return
    fi
    {
        curl -fsS -X PUT -H "$h" -H 'Content-Type: application/javascript' \
            --data-binary @bench/presets/classify.js "$base/provisions/classify" &&
        curl -fsS -X PUT -H "$h" "$base/presets/classify" \
            -d '{"weight": 1, "precondition": {"Device.DeviceInfo.SoftwareVersion": {"$regex": "^4\\."}}, "provisions": [["classify"]]}' &&
        curl -fsS -X PUT -H "$h" "$base/presets/periodic" \
            -d '{"events": {"2 PERIODIC": true}, "provisions": [["tag", "periodic"]]}' &&
        curl -fsS -X PUT -H "$h" "$base/presets/lab-reboot" \
            -d '{"precondition": {"_tags": "lab"}, "provisions": [["reboot"]]}'
    } >>"$OUT/acs-presets-presets.log" 2>&1
}

# Starts the ACS with auth on or off on store $3 (sqlite or postgres) with $4 nodes,
# measures it as run $1 with extra loadgen arguments.
run_acs() {
    local name=$1 auth=$2 store=$3 nodes=$4
    shift 4
    if [[ "$ACS_OK" != 1 ]]; then
        ROWS+=("| $name | not built | | | | | | | |")
        return
    fi
    local schema="bench_sessions_${name//-/_}_$$"
    if [[ "$store" == postgres ]]; then
        SCHEMAS+=("$schema")
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null
    fi
    local ports=() n port api dir also=()
    for ((n = 1; n <= nodes; n++)); do
        port=$(free_port)
        api=$(free_port)
        dir="$TMP/$name-$n"
        mkdir -p "$dir/data"
        {
            echo "data_dir = \"$dir/data\""
            echo "cwmp.listen = \"127.0.0.1:$port\""
            echo "cwmp.auth.enabled = $auth"
            if [[ "$auth" == true ]]; then
                echo "cwmp.auth.default_username = \"$DIGEST_USER\""
                echo "cwmp.auth.default_password = \"$DIGEST_PASSWORD\""
            fi
            # Sessions of exactly two exchanges, as with the baseline: do not push Connection
            # Request credentials to devices met for the first time.
            echo "cwmp.set_connection_request_credentials = false"
            # No presets but the benchmark's own (acs-presets).
            echo "provisioning.default_presets = false"
            echo "api.listen = \"127.0.0.1:$api\""
            echo "log.level = \"$ACS_LOG_LEVEL\""
            if [[ "$store" == postgres ]]; then
                echo "database.url = \"$PG_URL\""
                echo "database.schema = \"$schema\""
            fi
            [[ -n "$ACS_EXTRA_CONFIG" ]] && echo "$ACS_EXTRA_CONFIG"
        } >"$dir/acs.toml"
        "$ACS_BIN" serve --config "$dir/acs.toml" >"$OUT/$name-$n.log" 2>&1 &
        SERVER_PIDS+=("$!")
        if ! wait_for_port "$port" "$!"; then
            log "$name did not start; last lines of $OUT/$name-$n.log:"
            tail -n 20 "$OUT/$name-$n.log" >&2 || true
            ROWS+=("| $name | did not start (see $OUT/$name-$n.log) | | | | | | | |")
            stop_server
            return
        fi
        ports+=("$port")
        ((n > 1)) && also+=(--also-url "http://127.0.0.1:$port/")
    done
    if [[ "$name" == acs-presets* ]] && ! put_presets "$api" "$dir/acs.toml" "$name"; then
        ROWS+=("| $name | presets not accepted (see $OUT/$name-presets.log) | | | | | | | |")
        stop_server
        return
    fi
    measure "$name" "${ports[0]}" ${also[@]+"${also[@]}"} "$@"
    stop_server
}

has_run acs && run_acs acs false sqlite 1
has_run acs-digest && run_acs acs-digest true sqlite 1 \
    --auth digest --username "$DIGEST_USER" --password "$DIGEST_PASSWORD"
has_run acs-presets && run_acs acs-presets false sqlite 1
has_run acs-presets-idle && run_acs acs-presets-idle false sqlite 1
has_run acs-pg && run_acs acs-pg false postgres 1
has_run acs-pg-2nodes && run_acs acs-pg-2nodes false postgres 2

echo
echo "Sessions: concurrency $CONCURRENCY, $PARAMETERS parameters, $DEVICES devices," \
    "${DURATION} s after ${WARMUP} s warm-up${RATE:+, rate $RATE/s};" \
    "$(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| target | sessions/s | p50 ms | p99 ms | max ms | errors | server CPU s / 1,000 sessions | server peak RSS MB | vs baseline |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in ${ROWS[@]+"${ROWS[@]}"}; do
    echo "$row"
done
echo
for note in ${NOTES[@]+"${NOTES[@]}"}; do
    echo "- $note"
done

if [[ "$QUICK" == 1 ]]; then
    # Every run must have completed sessions without an error (the errors column is 0).
    bad=0
    for row in ${ROWS[@]+"${ROWS[@]}"}; do
        errors=$(awk -F'|' '{gsub(/ /, "", $7); print $7}' <<<"$row")
        if [[ "$errors" != 0 ]]; then
            log "quick mode: a run failed: $row"
            bad=1
        fi
    done
    exit "$bad"
fi
