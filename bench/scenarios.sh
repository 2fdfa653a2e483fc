#!/usr/bin/env bash
# Scenarios (b), (c) and (e) of the performance harness, on `acs serve` with CPE
# authentication on (Digest), driven by cpe-sim (every session on its own TCP connection,
# every device with its own data model):
#
#   work   (b) sessions with work: a preset on `2 PERIODIC` runs bench/presets/work.js,
#              a GetParameterValues of 50 parameters and a SetParameterValues of 5 in
#              every periodic session. WORK_DEVICES devices inform every WORK_INTERVAL s;
#              the first WORK_WARMUP s (registration, and each device's first periodic
#              session, which discovers the parameters with GetParameterNames) are not
#              measured.
#   storm  (c) an outage storm: STORM_DEVICES devices register (ramped), then all lose
#              power at once and inform 1 BOOT together. The ACS admits at most
#              STORM_ADMIT sessions at once (cwmp.max_sessions) and answers the rest 503
#              with Retry-After: STORM_RETRY_AFTER s. Reports the time from the storm until
#              every device had its BOOT session, the 503s sent, the ACS's peak RSS, and
#              that it did not crash.
#   cr     (e) connection requests per second: CR_DEVICES devices register, then the API
#              is asked for one connection request per device (POST
#              /devices/{id}/tasks?connection_request, CR_CONCURRENCY at once, curl
#              --parallel); each is an HTTP GET with Digest auth to cpe-sim's listener,
#              and each device then opens a `6 CONNECTION REQUEST` session.
#
#   bench/scenarios.sh                         # all three on SQLite
#   RUNS="storm" STORE=postgres bench/scenarios.sh
#   QUICK=1 BUILD=0 BIN_DIR=target/debug bench/scenarios.sh   # CI: it works, not how fast
#
# Settings (environment): RUNS (work storm cr), STORE (sqlite | postgres: PG_URL, default
# postgres://postgres@127.0.0.1:5432/test, a schema of its own dropped after), BIN_DIR
# (target/release), BUILD (1: cargo build --release first), WORK_DEVICES (1000),
# WORK_INTERVAL (2), WORK_WARMUP (30), WORK_SECS (30), STORM_DEVICES (20000), STORM_ADMIT (1000),
# STORM_RETRY_AFTER (2), STORM_TIMEOUT (300 s for every device to come back), CR_DEVICES
# (5000), CR_CONCURRENCY (64), QUICK (1: a few devices and seconds each, and exit 1 unless
# every scenario did what it should), KEEP (1: keep the temporary directory).
# Prints one Markdown table per scenario; logs and raw summaries go to
# target/bench-scenarios/.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-work storm cr}
STORE=${STORE:-sqlite}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
BIN_DIR=${BIN_DIR:-target/release}
BUILD=${BUILD:-1}
QUICK=${QUICK:-0}
KEEP=${KEEP:-0}
if [[ "$QUICK" == 1 ]]; then
    WORK_DEVICES=${WORK_DEVICES:-20}
    WORK_INTERVAL=${WORK_INTERVAL:-1}
    WORK_WARMUP=${WORK_WARMUP:-4}
    WORK_SECS=${WORK_SECS:-4}
    STORM_DEVICES=${STORM_DEVICES:-200}
    STORM_ADMIT=${STORM_ADMIT:-20}
    STORM_RETRY_AFTER=${STORM_RETRY_AFTER:-1}
    STORM_TIMEOUT=${STORM_TIMEOUT:-120}
    CR_DEVICES=${CR_DEVICES:-20}
    CR_CONCURRENCY=${CR_CONCURRENCY:-4}
fi
WORK_DEVICES=${WORK_DEVICES:-1000}
WORK_INTERVAL=${WORK_INTERVAL:-2}
WORK_WARMUP=${WORK_WARMUP:-30}
WORK_SECS=${WORK_SECS:-30}
STORM_DEVICES=${STORM_DEVICES:-20000}
STORM_ADMIT=${STORM_ADMIT:-1000}
STORM_RETRY_AFTER=${STORM_RETRY_AFTER:-2}
STORM_TIMEOUT=${STORM_TIMEOUT:-300}
CR_DEVICES=${CR_DEVICES:-5000}
CR_CONCURRENCY=${CR_CONCURRENCY:-64}
USER_NAME=fleet
PASSWORD=scenario-bench-secret

OUT=target/bench-scenarios
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/acs-scenarios.XXXXXX")
ACS_PID=""
SIM_PID=""
SCHEMA=""
FAILED=()

# Stops cpe-sim, then the ACS (SIGTERM: a graceful shutdown, which lets sessions in
# progress end; after 30 s it is killed, and the output says so).
stop() {
    if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    if [[ -n "$ACS_PID" ]] && kill -0 "$ACS_PID" 2>/dev/null; then
        kill "$ACS_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$ACS_PID" 2>/dev/null && ((waited < 300)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$ACS_PID" 2>/dev/null; then
            kill -9 "$ACS_PID" 2>/dev/null || true
            # cpe-sim has ended, so no connection is left to finish: a graceful shutdown
            # this slow is a bug (as the one fixed in cwmp_server's connection cleanup).
            fail "${CURRENT:-acs}" "the ACS did not shut down within 30 s of SIGTERM; killed"
        fi
        wait "$ACS_PID" 2>/dev/null || true
    fi
    SIM_PID=""
    ACS_PID=""
    if [[ -n "$SCHEMA" ]]; then
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS \"$SCHEMA\" CASCADE" >/dev/null 2>&1 || true
        SCHEMA=""
    fi
}
cleanup() {
    stop
    [[ "$KEEP" == 1 ]] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "scenarios.sh: $*" >&2; }
has_run() { [[ " $RUNS " == *" $1 "* ]]; }
fail() {
    log "$1: $2"
    FAILED+=("$1: $2")
}
# shellcheck source=bench/lib.sh
source bench/lib.sh

if [[ "$BUILD" == 1 ]]; then
    log "building acs and cpe-sim (release)"
    cargo build --release -q -p acs -p cpe-sim
fi

# Starts acs serve for scenario $1 (extra TOML lines on stdin); sets ACS_PID, PORT, API,
# TOKEN.
start_acs() {
    local name=$1 dir="$TMP/$1"
    mkdir -p "$dir/data"
    PORT=$(free_port)
    API=$(free_port)
    {
        echo "data_dir = \"$dir/data\""
        echo "cwmp.listen = \"127.0.0.1:$PORT\""
        echo "cwmp.auth.default_username = \"$USER_NAME\""
        echo "cwmp.auth.default_password = \"$PASSWORD\""
        echo "provisioning.default_presets = false"
        echo "api.listen = \"127.0.0.1:$API\""
        echo "log.level = \"warn\""
        if [[ "$STORE" == postgres ]]; then
            SCHEMA="bench_scenarios_${name}_$$"
            psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS \"$SCHEMA\" CASCADE" >/dev/null
            echo "database.url = \"$PG_URL\""
            echo "database.schema = \"$SCHEMA\""
        fi
        cat
    } >"$dir/acs.toml"
    "$BIN_DIR/acs" serve --config "$dir/acs.toml" >"$OUT/$name-acs.log" 2>&1 &
    ACS_PID=$!
    if ! wait_for_port "$PORT" "$ACS_PID"; then
        tail -n 20 "$OUT/$name-acs.log" >&2 || true
        return 1
    fi
    TOKEN=$("$BIN_DIR/acs" token create --name "bench-$name" --config "$dir/acs.toml" \
        2>>"$OUT/$name-acs.log" | tail -1)
}

api() {
    local method=$1 path=$2
    shift 2
    curl -fsS -X "$method" -H "Authorization: Bearer $TOKEN" "$@" "http://127.0.0.1:$API$path"
}

# The value of a metric of the ACS (sum over label sets matching the grep pattern $1).
metric() {
    api GET /metrics | { grep -E "^$1" || true; } | awk '{s += $NF} END {printf "%d\n", s}'
}

# CPU seconds (user + system) the process $1 has used.
cpu_secs() {
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$1/stat"
}

peak_rss_mb() {
    awk '/VmHWM/ {printf "%.0f\n", $2 / 1024}' "/proc/$1/status"
}

# Starts cpe-sim for scenario $1 with the arguments after it; sets SIM_PID.
start_sim() {
    local name=$1
    shift
    "$BIN_DIR/cpe-sim" --acs-url "http://127.0.0.1:$PORT/" --username "$USER_NAME" \
        --password "$PASSWORD" --get-rpc-methods never --quiet --json "$@" \
        >"$OUT/$name-sim.json" 2>"$OUT/$name-sim.log" &
    SIM_PID=$!
}

# Waits until the ACS counted $1 sessions ended ok, at most $2 seconds; prints the
# seconds waited, or fails.
wait_sessions() {
    local started=$SECONDS n
    while ((SECONDS - started < $2)); do
        n=$(metric 'acs_sessions_total\{outcome="ok"\}')
        if ((n >= $1)); then
            echo $((SECONDS - started))
            return 0
        fi
        kill -0 "$ACS_PID" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}

json_field() {
    python3 -c 'import json, sys; v = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"s": v}))' "$@"
}

echo "Scenarios on $STORE: $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)$([[ "$QUICK" == 1 ]] && echo " (quick mode)")"

if has_run work; then
    CURRENT=work
    echo
    if start_acs work </dev/null; then
        api PUT /provisions/work -H 'Content-Type: application/javascript' \
            --data-binary @bench/presets/work.js >/dev/null
        api PUT /presets/work \
            -d '{"events": {"2 PERIODIC": true}, "provisions": [["work"]]}' >/dev/null
        log "work: $WORK_DEVICES devices informing every $WORK_INTERVAL s, $WORK_WARMUP s warm-up, $WORK_SECS s measured"
        start_sim work --devices "$WORK_DEVICES" --periodic-interval "$WORK_INTERVAL" \
            --ramp-up "$WORK_INTERVAL" --no-cr --max-sessions 512 \
            --warmup "$WORK_WARMUP" --duration $((WORK_WARMUP + WORK_SECS))
        sleep "$WORK_WARMUP"
        cpu0=$(cpu_secs "$ACS_PID")
        gpv0=$(metric 'acs_rpc_duration_seconds_count\{method="GetParameterValues"\}')
        spv0=$(metric 'acs_rpc_duration_seconds_count\{method="SetParameterValues"\}')
        wait "$SIM_PID" || fail work "cpe-sim exited $?"
        SIM_PID=""
        cpu=$(awk -v a="$cpu0" -v b="$(cpu_secs "$ACS_PID")" 'BEGIN {printf "%.2f", b - a}')
        rss=$(peak_rss_mb "$ACS_PID")
        gpv=$(($(metric 'acs_rpc_duration_seconds_count\{method="GetParameterValues"\}') - gpv0))
        spv=$(($(metric 'acs_rpc_duration_seconds_count\{method="SetParameterValues"\}') - spv0))
        j="$OUT/work-sim.json"
        ok=$(json_field "$j" 's["sessions_ok"]')
        echo "(b) sessions with work: GetParameterValues of 50 + SetParameterValues of 5 per periodic session ($WORK_SECS s after $WORK_WARMUP s of warm-up)"
        echo
        echo "| devices | every | sessions ok | failed (by cause) | sessions/s | RPCs answered per session | GPV / SPV sent | p50 ms | p99 ms | max ms | ACS CPU s | ACS CPU ms / session | ACS peak RSS MB |"
        echo "|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"
        json_field "$j" '"| %d | %s s | %d | %d %s | %.0f | %.1f | " % (s["devices"], '"$WORK_INTERVAL"', s["sessions_ok"], s["sessions_failed"], s["failed_by_cause"] or "", s["sessions_per_sec"], s["rpcs_handled"] / max(s["sessions_ok"], 1))' |
            tr -d '\n'
        echo -n "$gpv / $spv | "
        json_field "$j" '"%.1f | %.1f | %.1f | " % (s["latency_ms"]["p50"], s["latency_ms"]["p99"], s["latency_ms"]["max"])' |
            tr -d '\n'
        echo "$cpu | $(awk -v c="$cpu" -v n="$ok" 'BEGIN {printf "%.3f", c * 1000 / (n > 0 ? n : 1)}') | $rss |"
        # Works: sessions ran, and the periodic ones did their reads and writes.
        ((ok > 0)) || fail work "no session completed"
        ((gpv > 0 && spv > 0)) || fail work "no GetParameterValues or SetParameterValues sent ($gpv, $spv)"
    else
        fail work "acs did not start"
    fi
    stop
fi

if has_run storm; then
    CURRENT=storm
    echo
    if start_acs storm <<EOF; then
cwmp.max_sessions = $STORM_ADMIT
cwmp.retry_after_secs = $STORM_RETRY_AFTER
EOF
        ramp=$(awk -v n="$STORM_DEVICES" 'BEGIN {r = n / 2000; printf "%.1f", r < 1 ? 1 : r}')
        log "storm: $STORM_DEVICES devices register over $ramp s"
        # No periodic informs: every session after registration is the storm's.
        start_sim storm --devices "$STORM_DEVICES" --ramp-up "$ramp" --periodic-interval 86400 \
            --no-cr --max-sessions $((STORM_ADMIT * 4)) --response-timeout 60
        if registered=$(wait_sessions "$STORM_DEVICES" "$STORM_TIMEOUT"); then
            busy0=$(metric 'acs_sessions_total\{outcome="busy"\}')
            cpu0=$(cpu_secs "$ACS_PID")
            log "storm: registered after $registered s; every device loses power"
            kill -USR1 "$SIM_PID"
            if served=$(wait_sessions $((STORM_DEVICES * 2)) "$STORM_TIMEOUT"); then
                busy=$(($(metric 'acs_sessions_total\{outcome="busy"\}') - busy0))
                cpu=$(awk -v a="$cpu0" -v b="$(cpu_secs "$ACS_PID")" 'BEGIN {printf "%.2f", b - a}')
                echo "(c) outage storm: every device informs 1 BOOT at once"
                echo
                echo "| devices | admitted at once | registered in s | all served after the storm in s | BOOT sessions/s | 503s sent | ACS CPU s (storm) | ACS peak RSS MB | ACS alive |"
                echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
                echo "| $STORM_DEVICES | $STORM_ADMIT | $registered | $served | $(awk -v n="$STORM_DEVICES" -v t="$served" 'BEGIN {printf "%.0f", n / (t > 0 ? t : 1)}') | $busy | $cpu | $(peak_rss_mb "$ACS_PID") | yes |"
            else
                fail storm "not every device was served within $STORM_TIMEOUT s of the storm"
            fi
        else
            fail storm "the devices did not all register within $STORM_TIMEOUT s"
        fi
        kill -0 "$ACS_PID" 2>/dev/null || fail storm "the ACS died"
    else
        fail storm "acs did not start"
    fi
    stop
fi

if has_run cr; then
    CURRENT=cr
    echo
    if start_acs cr </dev/null; then
        CR_PORT=$(free_port)
        ramp=$(awk -v n="$CR_DEVICES" 'BEGIN {r = n / 2000; printf "%.1f", r < 1 ? 1 : r}')
        log "cr: $CR_DEVICES devices register over $ramp s"
        start_sim cr --devices "$CR_DEVICES" --ramp-up "$ramp" --periodic-interval 86400 \
            --cr-listen "127.0.0.1:$CR_PORT" --cr-per-minute 0 --max-sessions 512
        if wait_sessions "$CR_DEVICES" 300 >/dev/null; then
            # cpe-sim names devices OUI-ProductClass-SerialNumber: 02C0DE-HG4000-SIM00000000...
            for ((i = 0; i < CR_DEVICES; i++)); do
                printf 'url = "http://127.0.0.1:%s/devices/02C0DE-HG4000-SIM%08d/tasks?connection_request"\n-X POST\n-o /dev/null\n-w "%%{http_code}\\n"\n' "$API" "$i"
            done >"$TMP/cr.curl"
            sessions0=$(metric 'acs_sessions_total\{outcome="ok"\}')
            cpu0=$(cpu_secs "$ACS_PID")
            t0=$(date +%s.%N)
            curl -sS --no-progress-meter --parallel --parallel-immediate --parallel-max "$CR_CONCURRENCY" \
                -H "Authorization: Bearer $TOKEN" -K "$TMP/cr.curl" >"$OUT/cr-status.txt" || true
            t1=$(date +%s.%N)
            cpu=$(awk -v a="$cpu0" -v b="$(cpu_secs "$ACS_PID")" 'BEGIN {printf "%.2f", b - a}')
            sent=$(grep -c '^200$' "$OUT/cr-status.txt" || true)
            # Each connection request makes a session: wait for them to finish.
            after=$(wait_sessions $((sessions0 + sent)) 120 || echo "—")
            echo "(e) connection requests sent through the API to simulated devices"
            echo
            echo "| devices | at once | CRs answered 200 | other answers | seconds | CRs/s | sessions they opened done after (s) | ACS CPU s (CRs) | ACS CPU ms / CR | ACS peak RSS MB |"
            echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            awk -v n="$CR_DEVICES" -v c="$CR_CONCURRENCY" -v ok="$sent" -v t0="$t0" -v t1="$t1" \
                -v after="$after" -v cpu="$cpu" -v rss="$(peak_rss_mb "$ACS_PID")" \
                'BEGIN {t = t1 - t0; printf "| %d | %d | %d | %d | %.2f | %.0f | %s | %.2f | %.3f | %s |\n", n, c, ok, n - ok, t, ok / t, after, cpu, cpu * 1000 / (ok > 0 ? ok : 1), rss}'
            ((sent == CR_DEVICES)) || fail cr "$((CR_DEVICES - sent)) connection requests not answered 200"
        else
            fail cr "the devices did not all register"
        fi
    else
        fail cr "acs did not start"
    fi
    stop
fi

if ((${#FAILED[@]} > 0)); then
    echo
    printf 'FAILED: %s\n' "${FAILED[@]}"
    [[ "$QUICK" == 1 ]] && exit 1
fi
exit 0
