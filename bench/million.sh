#!/usr/bin/env bash
# The PostgreSQL store with a million devices: load time, store size, and the latency of the
# NBI's device queries (GET /devices) through acs serve.
#
#   bench/million.sh                            # 1,000,000 devices, then drop the schema
#   DEVICES=10000 bench/million.sh              # a quick run
#   KEEP=1 bench/million.sh                     # keep the schema (and the config) afterwards
#   LOAD=0 bench/million.sh                     # measure a schema kept by an earlier KEEP=1 run
#
# What it does:
#  1. drops schema $SCHEMA if present and creates it with `acs migrate` (the store's own
#     migrations);
#  2. loads DEVICES devices inside PostgreSQL (INSERT ... SELECT over generate_series, no row
#     crosses the wire): a TR-181 home gateway each, PARAMS parameters on average (the fixed
#     part below plus Device.Hosts.Host.{1..N} whose count varies by device) and the object
#     rows of every object above them, written as the ACS writes a device after its Inform
#     and a full refresh (GetParameterNames "Device." then GetParameterValues): object rows
#     with `object`, `writable` and the enumeration time, parameters with `writable`, the
#     value, its type code, `num` for the numeric types, booleans and dateTimes, and the
#     time it was read (the last Inform for the parameters the Inform carries, the last
#     refresh for the others); serial numbers, MAC and IP addresses, counters, uptimes and
#     passphrases vary by device, software versions come from 20 (skewed: the rarest is on
#     0.05% of the devices), models from 4. Tags: one of 100 `region-NNN` per device, `lab`
#     on 1%, `trial` on 0.01%. Last Informs spread over the day before the start; EVENTS
#     Inform events per device. The secondary indexes and the primary-key and unique
#     constraints of devices, params, tags and events are dropped for the load and made
#     again from their definitions as the migration created them (read from pg_indexes and
#     pg_constraint before they are dropped, compared after), then VACUUM (ANALYZE);
#  3. prints the size of every table and index, the schema's total and bytes per device;
#  4. starts target/release/acs serve on the schema (ports on 127.0.0.1), creates an API
#     token and times each query ITERATIONS times after WARMUP runs, over one keep-alive
#     connection (python3, http.client): median, p90 and max in ms, response size, the
#     `total` header (`N+` when it is a lower bound, `total-exact: false`); the broad
#     queries also with `count=exact`. Point lookups (id, serial, MAC) ask for a different device each time;
#  5. for every query whose median is over SLOW_MS, starts acs serve again with auto_explain
#     on its connections (session settings in the database URL), runs the query 10 times
#     and prints the plans PostgreSQL logged for its statements over EXPLAIN_MS (EXPLAIN
#     ANALYZE BUFFERS of the store's own statements, as prepared by sqlx: after five runs
#     PostgreSQL may choose a generic plan);
#  6. drops the schema (unless KEEP=1).
#
# Settings (environment): DEVICES (1000000), PARAMS (250: parameters per device on average,
# objects not counted; at least the fixed part, 210, then 8 per host), EVENTS (3 per
# device), SCHEMA (acs_million), DATABASE_URL (postgres://postgres@127.0.0.1:5432/test),
# PSQL (psql), JOBS (2 loading sessions at once), CHUNK (20000 devices per loading
# transaction), MAINTENANCE_WORK_MEM (2GB, for the index builds), ITERATIONS (50), WARMUP
# (5), SLOW_MS (50), EXPLAIN_MS (10), LOAD (1; 0: use the schema as it is), QUERY (1; 0:
# load and size only), BUILD (1: cargo build --release -p acs first), ACS_BIN
# (target/release/acs), PG_LOG (/var/log/postgresql/postgresql-15-main.log, where the
# server logs, for the plans), START_TIMEOUT (120 s), KEEP (0; with LOAD=0 the schema is
# also kept when the run fails). The load's sessions set synchronous_commit = off and
# maintenance_work_mem; nothing of the server's configuration is changed.
# Logs, the generated config and the raw results go to target/bench-million/.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICES=${DEVICES:-1000000}
PARAMS=${PARAMS:-250}
EVENTS=${EVENTS:-3}
SCHEMA=${SCHEMA:-acs_million}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
PSQL=${PSQL:-psql}
JOBS=${JOBS:-2}
CHUNK=${CHUNK:-20000}
MAINTENANCE_WORK_MEM=${MAINTENANCE_WORK_MEM:-2GB}
ITERATIONS=${ITERATIONS:-50}
WARMUP=${WARMUP:-5}
SLOW_MS=${SLOW_MS:-50}
EXPLAIN_MS=${EXPLAIN_MS:-10}
LOAD=${LOAD:-1}
QUERY=${QUERY:-1}
BUILD=${BUILD:-1}
ACS_BIN=${ACS_BIN:-target/release/acs}
# The ACS reads ACS_* environment variables as configuration and refuses unknown ones.
export -n ACS_BIN
PG_LOG=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
START_TIMEOUT=${START_TIMEOUT:-120}
KEEP=${KEEP:-0}

GEN="${SCHEMA}_gen" # helper tables of the load, dropped after it
OUT=target/bench-million
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/acs-million.XXXXXX")
SERVER_PID=""
SUMMARY=()

log() { echo "million.sh $(date -u +%H:%M:%S): $*" >&2; }

# Seconds since $1 (date +%s.%N).
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
    local rc=$?
    stop_server
    if [[ "$KEEP" == 1 ]]; then
        log "kept schema $SCHEMA and $TMP"
    else
        if [[ "$LOAD" == 1 || "$rc" == 0 ]]; then
            log "dropping schema $SCHEMA"
            "$PSQL" "$DATABASE_URL" -qX -c "DROP SCHEMA IF EXISTS \"$SCHEMA\" CASCADE" \
                -c "DROP SCHEMA IF EXISTS \"$GEN\" CASCADE" >/dev/null 2>&1 || true
        fi
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

# psql on the database with the schema first in the search path; SQL from arguments or stdin.
sql() {
    local opts="-c search_path=$SCHEMA,$GEN -c synchronous_commit=off"
    PGOPTIONS="$opts -c client_min_messages=warning ${PGOPTIONS_EXTRA:-}" \
        "$PSQL" "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 "$@"
}
sql_value() { sql -At -c "$1"; }

# Runs "$@" and records its wall time as phase $1 of the summary.
phase() {
    local name=$1
    shift
    local t0 secs
    t0=$(date +%s.%N)
    log "$name ..."
    "$@"
    secs=$(elapsed "$t0")
    log "$name: $secs s"
    SUMMARY+=("| $name | $secs |")
}

# shellcheck source=bench/lib.sh
source bench/lib.sh  # (the working directory is the repository here)

if [[ "$BUILD" == 1 ]]; then
    log "building acs (release)"
    cargo build --release -q -p acs
fi
[[ -x "$ACS_BIN" ]] || {
    log "no ACS binary at $ACS_BIN"
    exit 1
}

# The ACS configuration on the schema; $1 is the database URL (which may carry session
# settings), $2 the file.
write_config() {
    local url=$1 file=$2
    mkdir -p "$TMP/data"
    {
        echo "data_dir = \"$TMP/data\""
        echo "cwmp.listen = \"127.0.0.1:${CWMP_PORT:-0}\""
        echo "api.listen = \"127.0.0.1:${API_PORT:-0}\""
        echo "log.level = \"warn\""
        echo "database.url = \"$url\""
        echo "database.schema = \"$SCHEMA\""
    } >"$file"
}
CONFIG="$TMP/acs.toml"
write_config "$DATABASE_URL" "$CONFIG"

# ---------------------------------------------------------------------------------------
# The device template: path, type, writable, carried by the Inform (1: its time is the last
# Inform's), value. `{a-b}` in a path repeats the line for each instance, with `%i` in the
# value replaced by the instance number. A value may hold one `{kind}` or `{kind:arg}`
# computed per device (see value_sql): serial oui manufacturer product_class model hw swver
# username cruser ip ip6 ip6prefix mac:HEXDIGIT (the device's MAC addresses) rmac (a client's
# MAC address) uptime rand:LOW:HIGH pick:A|B|C dt:reg|boot|refresh hex:N hosts.
# Device.Hosts.Host.{1..N}.* come after, from host_template.
template() {
    cat <<'EOF'
Device.RootDataModelVersion	string	0	1	2.17
Device.DeviceInfo.DeviceCategory	string	0	0	IGD
Device.DeviceInfo.Manufacturer	string	0	0	{manufacturer}
Device.DeviceInfo.ManufacturerOUI	string	0	0	{oui}
Device.DeviceInfo.ModelName	string	0	0	{model}
Device.DeviceInfo.Description	string	0	0	Dual-band Wi-Fi home gateway
Device.DeviceInfo.ProductClass	string	0	0	{product_class}
Device.DeviceInfo.SerialNumber	string	0	0	{serial}
Device.DeviceInfo.HardwareVersion	string	0	1	{hw}
Device.DeviceInfo.SoftwareVersion	string	0	1	{swver}
Device.DeviceInfo.AdditionalSoftwareVersion	string	0	0	bootloader-2.1.0,wifi-fw-1.14.2
Device.DeviceInfo.ProvisioningCode	string	1	1	{pick:|ISP.RES|ISP.RES|ISP.RES|ISP.BIZ}
Device.DeviceInfo.UpTime	unsignedInt	0	1	{uptime}
Device.DeviceInfo.FirstUseDate	dateTime	0	0	{dt:reg}
Device.DeviceInfo.HostName	string	1	0	gateway
Device.DeviceInfo.MemoryStatus.Total	unsignedInt	0	0	524288
Device.DeviceInfo.MemoryStatus.Free	unsignedInt	0	0	{rand:120000:400000}
Device.DeviceInfo.MemoryStatus.TotalPersistent	unsignedInt	0	0	131072
Device.DeviceInfo.MemoryStatus.FreePersistent	unsignedInt	0	0	{rand:40000:100000}
Device.DeviceInfo.ProcessStatus.CPUUsage	unsignedInt	0	0	{rand:0:100}
Device.DeviceInfo.ProcessStatus.ProcessNumberOfEntries	unsignedInt	0	0	3
Device.DeviceInfo.ProcessStatus.Process.1.Command	string	0	0	/sbin/init
Device.DeviceInfo.ProcessStatus.Process.2.Command	string	0	0	/usr/sbin/cwmpd
Device.DeviceInfo.ProcessStatus.Process.3.Command	string	0	0	/usr/sbin/hostapd
Device.DeviceInfo.ProcessStatus.Process.{1-3}.PID	unsignedInt	0	0	{rand:1:30000}
Device.DeviceInfo.ProcessStatus.Process.{1-3}.State	string	0	0	{pick:Sleeping|Sleeping|Running}
Device.ManagementServer.EnableCWMP	boolean	1	0	true
Device.ManagementServer.URL	string	1	0	http://acs.example.net:7547/
Device.ManagementServer.Username	string	1	0	{username}
Device.ManagementServer.Password	string	1	0	
Device.ManagementServer.PeriodicInformEnable	boolean	1	0	true
Device.ManagementServer.PeriodicInformInterval	unsignedInt	1	0	3600
Device.ManagementServer.PeriodicInformTime	dateTime	1	0	0001-01-01T00:00:00Z
Device.ManagementServer.ParameterKey	string	0	1	{pick:|||cfg-2026-10|cfg-2026-11}
Device.ManagementServer.ConnectionRequestURL	string	0	1	http://{ip}:7547/
Device.ManagementServer.ConnectionRequestUsername	string	1	0	{cruser}
Device.ManagementServer.ConnectionRequestPassword	string	1	0	
Device.ManagementServer.UpgradesManaged	boolean	1	0	false
Device.ManagementServer.CWMPRetryMinimumWaitInterval	unsignedInt	1	0	5
Device.ManagementServer.CWMPRetryIntervalMultiplier	unsignedInt	1	0	2000
Device.ManagementServer.HTTPConnectionRequestEnable	boolean	1	0	true
Device.ManagementServer.AliasBasedAddressing	boolean	0	1	false
Device.ManagementServer.SupportedConnReqMethods	string	0	0	HTTP,STUN
Device.Time.Enable	boolean	1	0	true
Device.Time.Status	string	0	0	Synchronized
Device.Time.NTPServer1	string	1	0	0.pool.ntp.org
Device.Time.CurrentLocalTime	dateTime	0	0	{dt:refresh}
Device.Time.LocalTimeZone	string	1	0	CET-1CEST,M3.5.0,M10.5.0/3
Device.Ethernet.InterfaceNumberOfEntries	unsignedInt	0	0	4
Device.Ethernet.Interface.1.MACAddress	string	0	0	{mac:0}
Device.Ethernet.Interface.2.MACAddress	string	0	0	{mac:1}
Device.Ethernet.Interface.3.MACAddress	string	0	0	{mac:2}
Device.Ethernet.Interface.4.MACAddress	string	0	0	{mac:3}
Device.Ethernet.Interface.{1-4}.Status	string	0	0	{pick:Up|Up|Down}
Device.Ethernet.Interface.{1-4}.Name	string	0	0	eth%i
Device.Ethernet.Interface.{1-4}.MaxBitRate	int	1	0	{pick:1000|1000|-1}
Device.Ethernet.Interface.{1-4}.Stats.BytesSent	unsignedLong	0	0	{rand:0:900000000000}
Device.Ethernet.Interface.{1-4}.Stats.BytesReceived	unsignedLong	0	0	{rand:0:900000000000}
Device.IP.IPv4Capable	boolean	0	0	true
Device.IP.IPv4Enable	boolean	1	0	true
Device.IP.IPv4Status	string	0	0	Enabled
Device.IP.IPv6Capable	boolean	0	0	true
Device.IP.IPv6Enable	boolean	1	0	true
Device.IP.IPv6Status	string	0	0	Enabled
Device.IP.InterfaceNumberOfEntries	unsignedInt	0	0	2
Device.IP.Interface.1.Name	string	0	0	wan
Device.IP.Interface.1.LowerLayers	string	1	0	Device.Ethernet.Interface.1
Device.IP.Interface.1.IPv4Address.1.IPAddress	string	1	0	{ip}
Device.IP.Interface.1.IPv4Address.1.SubnetMask	string	1	0	255.192.0.0
Device.IP.Interface.1.IPv4Address.1.AddressingType	string	0	0	DHCP
Device.IP.Interface.1.IPv6Address.1.IPAddress	string	1	0	{ip6}
Device.IP.Interface.1.IPv6Address.1.Origin	string	0	0	DHCPv6
Device.IP.Interface.2.Name	string	0	0	br-lan
Device.IP.Interface.2.LowerLayers	string	1	0	Device.Ethernet.Interface.2,Device.Ethernet.Interface.3,Device.Ethernet.Interface.4,Device.WiFi.SSID.1,Device.WiFi.SSID.2
Device.IP.Interface.2.IPv4Address.1.IPAddress	string	1	0	192.168.1.1
Device.IP.Interface.2.IPv4Address.1.SubnetMask	string	1	0	255.255.255.0
Device.IP.Interface.2.IPv4Address.1.AddressingType	string	0	0	Static
Device.IP.Interface.2.IPv6Prefix.1.Prefix	string	1	0	{ip6prefix}
Device.IP.Interface.2.IPv6Prefix.1.Origin	string	0	0	PrefixDelegation
Device.IP.Interface.{1-2}.Enable	boolean	1	0	true
Device.IP.Interface.{1-2}.Status	string	0	0	Up
Device.IP.Interface.{1-2}.LastChange	unsignedInt	0	0	{rand:0:2592000}
Device.IP.Interface.{1-2}.MaxMTUSize	unsignedInt	1	0	1500
Device.IP.Interface.{1-2}.IPv4Address.1.Enable	boolean	1	0	true
Device.IP.Interface.{1-2}.IPv4Address.1.Status	string	0	0	Enabled
Device.IP.Interface.{1-2}.Stats.BytesSent	unsignedLong	0	0	{rand:0:900000000000}
Device.IP.Interface.{1-2}.Stats.BytesReceived	unsignedLong	0	0	{rand:0:900000000000}
Device.WiFi.RadioNumberOfEntries	unsignedInt	0	0	2
Device.WiFi.SSIDNumberOfEntries	unsignedInt	0	0	4
Device.WiFi.AccessPointNumberOfEntries	unsignedInt	0	0	4
Device.WiFi.Radio.1.OperatingFrequencyBand	string	1	0	2.4GHz
Device.WiFi.Radio.1.OperatingStandards	string	1	0	g,n,ax
Device.WiFi.Radio.1.Channel	unsignedInt	1	0	{pick:1|6|11}
Device.WiFi.Radio.1.OperatingChannelBandwidth	string	1	0	20MHz
Device.WiFi.Radio.2.OperatingFrequencyBand	string	1	0	5GHz
Device.WiFi.Radio.2.OperatingStandards	string	1	0	a,n,ac,ax
Device.WiFi.Radio.2.Channel	unsignedInt	1	0	{pick:36|44|52|100|116}
Device.WiFi.Radio.2.OperatingChannelBandwidth	string	1	0	80MHz
Device.WiFi.Radio.{1-2}.Enable	boolean	1	0	true
Device.WiFi.Radio.{1-2}.Status	string	0	0	Up
Device.WiFi.Radio.{1-2}.Name	string	0	0	wlan%i
Device.WiFi.Radio.{1-2}.AutoChannelEnable	boolean	1	0	{pick:true|true|false}
Device.WiFi.Radio.{1-2}.RegulatoryDomain	string	1	0	DE 
Device.WiFi.Radio.{1-2}.Stats.Noise	int	0	0	{rand:-97:-85}
Device.WiFi.SSID.1.BSSID	string	0	0	{mac:4}
Device.WiFi.SSID.1.MACAddress	string	0	0	{mac:4}
Device.WiFi.SSID.1.SSID	string	1	0	Home-{hex:4}
Device.WiFi.SSID.1.LowerLayers	string	1	0	Device.WiFi.Radio.1
Device.WiFi.SSID.2.BSSID	string	0	0	{mac:5}
Device.WiFi.SSID.2.MACAddress	string	0	0	{mac:5}
Device.WiFi.SSID.2.SSID	string	1	0	Home-{hex:4}-5G
Device.WiFi.SSID.2.LowerLayers	string	1	0	Device.WiFi.Radio.2
Device.WiFi.SSID.3.BSSID	string	0	0	{mac:6}
Device.WiFi.SSID.3.MACAddress	string	0	0	{mac:6}
Device.WiFi.SSID.3.SSID	string	1	0	Guest-{hex:4}
Device.WiFi.SSID.3.LowerLayers	string	1	0	Device.WiFi.Radio.1
Device.WiFi.SSID.4.BSSID	string	0	0	{mac:7}
Device.WiFi.SSID.4.MACAddress	string	0	0	{mac:7}
Device.WiFi.SSID.4.SSID	string	1	0	Guest-{hex:4}-5G
Device.WiFi.SSID.4.LowerLayers	string	1	0	Device.WiFi.Radio.2
Device.WiFi.SSID.{1-4}.Enable	boolean	1	0	{pick:true|true|false}
Device.WiFi.SSID.{1-4}.Status	string	0	0	{pick:Up|Up|Down}
Device.WiFi.SSID.{1-4}.Stats.BytesSent	unsignedLong	0	0	{rand:0:900000000000}
Device.WiFi.SSID.{1-4}.Stats.BytesReceived	unsignedLong	0	0	{rand:0:900000000000}
Device.WiFi.AccessPoint.{1-4}.Enable	boolean	1	0	{pick:true|true|false}
Device.WiFi.AccessPoint.{1-4}.Status	string	0	0	{pick:Enabled|Enabled|Disabled}
Device.WiFi.AccessPoint.{1-4}.SSIDReference	string	1	0	Device.WiFi.SSID.%i
Device.WiFi.AccessPoint.{1-4}.AssociatedDeviceNumberOfEntries	unsignedInt	0	0	{rand:0:6}
Device.WiFi.AccessPoint.{1-4}.Security.ModeEnabled	string	1	0	{pick:WPA2-Personal|WPA3-Personal-Transition|WPA3-Personal}
Device.WiFi.AccessPoint.{1-4}.Security.KeyPassphrase	string	1	0	{hex:16}
Device.DHCPv4.Server.Enable	boolean	1	0	true
Device.DHCPv4.Server.PoolNumberOfEntries	unsignedInt	0	0	1
Device.DHCPv4.Server.Pool.1.Enable	boolean	1	0	true
Device.DHCPv4.Server.Pool.1.MinAddress	string	1	0	192.168.1.100
Device.DHCPv4.Server.Pool.1.MaxAddress	string	1	0	192.168.1.249
Device.DHCPv4.Server.Pool.1.SubnetMask	string	1	0	255.255.255.0
Device.DHCPv4.Server.Pool.1.DNSServers	string	1	0	192.168.1.1
Device.DHCPv4.Server.Pool.1.LeaseTime	int	1	0	86400
Device.DNS.Client.Enable	boolean	1	0	true
Device.DNS.Client.ServerNumberOfEntries	unsignedInt	0	0	2
Device.DNS.Client.Server.1.DNSServer	string	1	0	100.64.0.1
Device.DNS.Client.Server.1.Type	string	0	0	DHCPv4
Device.DNS.Client.Server.2.DNSServer	string	1	0	9.9.9.9
Device.DNS.Client.Server.2.Type	string	0	0	Static
Device.DNS.Client.Server.{1-2}.Enable	boolean	1	0	true
Device.Hosts.HostNumberOfEntries	unsignedInt	0	0	{hosts}
EOF
}

# One LAN host's parameters; the lines are repeated for Device.Hosts.Host.1..N with `%i`
# replaced by the instance number. A device has 1 to 2N-1 hosts (N on average).
host_template() {
    cat <<'EOF'
Device.Hosts.Host.%i.PhysAddress	string	0	0	{rmac}
Device.Hosts.Host.%i.IPAddress	string	0	0	192.168.1.{rand:100:249}
Device.Hosts.Host.%i.HostName	string	0	0	{pick:laptop|phone|tv|nas|tablet|printer|console|speaker}
Device.Hosts.Host.%i.InterfaceType	string	0	0	{pick:Wi-Fi|Wi-Fi|Ethernet}
Device.Hosts.Host.%i.Layer1Interface	string	0	0	{pick:Device.WiFi.SSID.1|Device.WiFi.SSID.2|Device.Ethernet.Interface.2}
Device.Hosts.Host.%i.Active	boolean	0	0	{pick:true|true|false}
Device.Hosts.Host.%i.ActiveLastChange	dateTime	0	0	{dt:boot}
Device.Hosts.Host.%i.IPv4Address.1.IPAddress	string	0	0	192.168.1.{rand:100:249}
EOF
}

# The template with its `{a-b}` instance ranges expanded, then the hosts; columns: path, type,
# writable, inform, value, host (the host instance, or \N).
expanded_template() {
    local hosts=$1
    template | awk -F'\t' -v OFS='\t' '
        match($1, /\{[0-9]+-[0-9]+\}/) {
            range = substr($1, RSTART + 1, RLENGTH - 2)
            split(range, b, "-")
            for (i = b[1]; i <= b[2]; i++) {
                p = $1; v = $5
                sub(/\{[0-9]+-[0-9]+\}/, i, p)
                gsub(/%i/, i, v)
                print p, $2, $3, $4, v, "\\N"
            }
            next
        }
        { print $1, $2, $3, $4, $5, "\\N" }'
    local i
    for ((i = 1; i <= hosts; i++)); do
        host_template |
            awk -F'\t' -v OFS='\t' -v i="$i" '{ gsub(/%i/, i, $1); print $1, $2, $3, $4, $5, i }'
    done
}

FIXED=$(expanded_template 0 | wc -l)
# Device.Hosts.Host.N has HOST_PARAMS parameters; N hosts on average make up PARAMS.
HOST_PARAMS=$(host_template | wc -l)
MEAN_HOSTS=$(((PARAMS - FIXED + HOST_PARAMS / 2) / HOST_PARAMS))
((MEAN_HOSTS >= 1)) || MEAN_HOSTS=1
MAX_HOSTS=$((2 * MEAN_HOSTS - 1))

# The value of a template row `t` for device `g`, with `r.h` a random (per device and path)
# non-negative bigint.
VALUE_SQL="CASE WHEN t.kind IS NULL THEN t.pre ELSE t.pre || CASE t.kind
    WHEN 'serial' THEN g.serial
    WHEN 'oui' THEN g.oui
    WHEN 'manufacturer' THEN g.manufacturer
    WHEN 'product_class' THEN g.product_class
    WHEN 'model' THEN g.model
    WHEN 'hw' THEN g.hw
    WHEN 'swver' THEN g.swver
    WHEN 'username' THEN g.oui || '-' || g.serial
    WHEN 'cruser' THEN g.cr_username
    WHEN 'ip' THEN g.ip
    WHEN 'ip6' THEN g.ip6
    WHEN 'ip6prefix' THEN g.ip6prefix
    WHEN 'mac' THEN g.mac_pre || t.arg
    WHEN 'rmac' THEN split_part('A4:83:E7|F0:18:98|00:11:32|3C:22:FB|DC:A6:32', '|',
            1 + ((r.h >> 24) % 5)::int) || ':'
        || upper(lpad(to_hex((r.h >> 16) & 255), 2, '0') || ':'
        || lpad(to_hex((r.h >> 8) & 255), 2, '0') || ':' || lpad(to_hex(r.h & 255), 2, '0'))
    WHEN 'uptime' THEN g.uptime::text
    WHEN 'rand' THEN (t.lo + r.h % (t.hi - t.lo + 1))::text
    WHEN 'pick' THEN split_part(t.arg, '|', 1 + (r.h % t.choices)::int)
    WHEN 'dt' THEN CASE t.arg WHEN 'reg' THEN g.reg_dt WHEN 'boot' THEN g.boot_dt
        ELSE g.refresh_dt END
    WHEN 'hex' THEN right(lpad(to_hex(r.h), 16, '0'), t.lo::int)
    WHEN 'hosts' THEN g.hosts::text
    END || t.post END"

# The number the ACS stores beside a value (acs_core::device::StoredValue::number): the
# integer types parsed, booleans 1/0, dateTimes in milliseconds.
NUM_SQL="CASE WHEN t.code BETWEEN 1 AND 4 THEN v.value::float8
    WHEN t.code = 5 THEN CASE v.value WHEN 'true' THEN 1 WHEN '1' THEN 1 WHEN 'false' THEN 0
        WHEN '0' THEN 0 END
    WHEN t.code = 6 THEN (extract(epoch FROM v.value::timestamptz) * 1000)::float8 END"

NOW_MS=$(($(date +%s%N) / 1000000))

prepare() {
    sql -c "DROP SCHEMA IF EXISTS \"$SCHEMA\" CASCADE" -c "DROP SCHEMA IF EXISTS \"$GEN\" CASCADE"
    # About 46 KB a device once loaded, and room for the largest index build's sort.
    local free_gb need_gb
    free_gb=$(df -BG --output=avail "$(sql_value "SHOW data_directory")" | tail -1 | tr -dc '0-9')
    need_gb=$((DEVICES * 60 / 1000000 + 1))
    log "$free_gb GB free where the database is, about $need_gb GB needed"
    ((free_gb >= need_gb)) || return 1
    "$ACS_BIN" migrate --config "$CONFIG" >"$OUT/migrate.log" 2>&1 || {
        cat "$OUT/migrate.log" >&2
        return 1
    }
}

# Helper tables: models, software versions, the template, the per-device values.
generate_helpers() {
    sql <<SQL
CREATE SCHEMA "$GEN";
SET search_path TO "$GEN";

-- A device id field as acs_core::DeviceId escapes it: bytes other than ASCII letters, digits
-- and '_' as '%' and their upper-case hex (one digit below 0x10, as GenieACS).
CREATE FUNCTION escape_id(s text) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$
    SELECT coalesce(string_agg(CASE WHEN chr(b) ~ '^[A-Za-z0-9_]\$' THEN chr(b)
        ELSE '%' || upper(to_hex(b)) END, '' ORDER BY i), '')
    FROM (SELECT i, get_byte(convert_to(s, 'UTF8'), i) AS b
          FROM generate_series(0, octet_length(s) - 1) i) x
\$\$;

-- Serial numbers are the prefix and 9 digits: letters and digits, nothing to escape.
CREATE TABLE models (lo int, hi int, oui text, manufacturer text, product_class text,
    model text, hw text, serial_prefix text, cwmp text, id_prefix text);
INSERT INTO models VALUES
    (0, 39, '02C0DE', 'SimNet Devices', 'HG4000', 'HG-4000ax', 'HG4000-R2B', 'S4K', '1.4'),
    (40, 69, '02C0DE', 'SimNet Devices', 'HG3000', 'HG-3000ac', 'HG3000-R1A', 'S3K', '1.2'),
    (70, 89, '00D09E', 'Acme Networks', 'HGW-1', 'HGW-1 Fiber', 'HGW1-V3', 'ACM', '1.4'),
    (90, 99, '3C9066', 'Example Broadband', 'XB7', 'XB7-T', 'XB7-2.0', 'XB7', '1.0');
UPDATE models SET id_prefix = escape_id(oui) || '-' || escape_id(product_class) || '-';

-- 20 software versions, skewed (per 10,000 devices); 5.0.0-rc1 is the rarest (0.05%).
CREATE TABLE versions (version text, weight int, lo int, hi int);
INSERT INTO versions (version, weight) VALUES
    ('4.2.7', 2250), ('4.2.6', 1600), ('4.2.5', 1200), ('4.1.9', 900), ('4.1.8', 750),
    ('4.1.2', 650), ('4.0.4', 550), ('3.9.12', 450), ('3.9.10', 400), ('3.9.3', 350),
    ('3.8.0', 250), ('3.7.1', 200), ('3.6.4', 150), ('3.5.0', 100), ('3.4.2', 70),
    ('3.2.0', 40), ('3.0.1', 30), ('2.9.9', 25), ('4.3.0-beta', 30), ('5.0.0-rc1', 5);
UPDATE versions v SET lo = s.lo, hi = s.lo + v.weight - 1
    FROM (SELECT version, sum(weight) OVER (ORDER BY weight DESC, version) - weight AS lo
          FROM versions) s
    WHERE s.version = v.version;

-- The template as written, then parsed.
CREATE TABLE raw (path text, type text, writable int, inform int, value text, host int);
SQL
    expanded_template "$MAX_HOSTS" | sql -c "COPY \"$GEN\".raw FROM STDIN"
    sql <<SQL
SET search_path TO "$GEN";
CREATE TABLE tmpl AS
SELECT row_number() OVER (ORDER BY path)::int AS id, path, false AS object,
    writable = 1 AS writable, inform = 1 AS inform, host,
    CASE type WHEN 'string' THEN 0 WHEN 'int' THEN 1 WHEN 'unsignedInt' THEN 2
        WHEN 'long' THEN 3 WHEN 'unsignedLong' THEN 4 WHEN 'boolean' THEN 5
        WHEN 'dateTime' THEN 6 END::int2 AS code,
    coalesce(substring(value FROM '^([^{]*)'), '') AS pre,
    substring(value FROM '\{([a-z_0-9]+)') AS kind,
    substring(value FROM '\{[a-z_0-9]+:([^}]*)\}') AS arg,
    coalesce(substring(value FROM '\}(.*)\$'), '') AS post,
    NULL::bigint AS lo, NULL::bigint AS hi, NULL::int AS choices
FROM raw;
UPDATE tmpl SET lo = split_part(arg, ':', 1)::bigint, hi = split_part(arg, ':', 2)::bigint
    WHERE kind = 'rand';
UPDATE tmpl SET lo = arg::bigint WHERE kind = 'hex';
UPDATE tmpl SET choices = array_length(string_to_array(arg, '|'), 1) WHERE kind = 'pick';

-- Every object above the parameters, as GetParameterNames lists them: writable where
-- instances can be added and deleted (the tables and their instances below).
INSERT INTO tmpl (id, path, object, writable, inform, host, pre, post)
SELECT (SELECT max(id) FROM tmpl) + row_number() OVER (ORDER BY o.path), o.path, true,
    o.path ~ ('^Device\.(IP\.Interface|IP\.Interface\.[0-9]+\.IPv4Address|WiFi\.SSID|'
        || 'WiFi\.AccessPoint|DHCPv4\.Server\.Pool|DNS\.Client\.Server)\.([0-9]+\.)?\$'),
    false, o.host, '', ''
FROM (SELECT DISTINCT ON (p) p AS path, min(t.host) OVER (PARTITION BY p) AS host
      FROM tmpl t,
      LATERAL (SELECT array_to_string((string_to_array(t.path, '.'))[1:k], '.') || '.' AS p
               FROM generate_series(1, array_length(string_to_array(t.path, '.'), 1) - 1) k) x
      ORDER BY p) o;
-- An object below Device.Hosts.Host.i. exists only where the device has host i; the
-- table itself always.
UPDATE tmpl SET host = NULL WHERE object AND path !~ '^Device\.Hosts\.Host\.[0-9]+\.';
SQL
}

# Per-device values. $1: devices.
generate_devices() {
    sql <<SQL
SET search_path TO "$GEN";
CREATE TABLE dev AS
SELECT s.n AS id, m.oui, m.manufacturer, m.product_class, m.model, m.hw, m.cwmp,
    m.serial_prefix || lpad(s.n::text, 9, '0') AS serial,
    m.id_prefix || m.serial_prefix || lpad(s.n::text, 9, '0') AS device_id,
    v.version AS swver,
    $NOW_MS - r.h3 % 86400000 AS inform_ms,
    60 + r.h4 % (30 * 86400) AS uptime,
    1 + r.h5 % $MAX_HOSTS AS hosts,
    -- The ACS's connection-request credentials: acs-<12 hex>, 32 hex.
    'acs-' || substr(md5('u' || s.n), 1, 12) AS cr_username,
    md5('p' || s.n) AS cr_password,
    -- 100.64.0.0/10, IPv6 from 2001:db8::/32; MAC addresses OUI + 24 bits of n * 16 + k.
    '100.' || (64 + ((s.n + 1) >> 16)) || '.' || (((s.n + 1) >> 8) & 255) || '.'
        || ((s.n + 1) & 255) AS ip,
    '2001:db8:' || to_hex(s.n >> 16) || ':' || to_hex(s.n & 65535) || '::1' AS ip6,
    '2001:db8:' || to_hex(32768 + (s.n >> 16)) || ':' || to_hex(s.n & 65535) || '::/64'
        AS ip6prefix,
    substr(m.oui, 1, 2) || ':' || substr(m.oui, 3, 2) || ':' || substr(m.oui, 5, 2) || ':'
        || upper(lpad(to_hex((s.n >> 12) & 255), 2, '0')) || ':'
        || upper(lpad(to_hex((s.n >> 4) & 255), 2, '0')) || ':' || upper(to_hex(s.n & 15))
        AS mac_pre,
    r.h6, r.h7, r.h8
FROM generate_series(1, $1::bigint) s(n)
CROSS JOIN LATERAL (SELECT
    hashint8extended(s.n, 1) & 9223372036854775807 AS h1,
    hashint8extended(s.n, 2) & 9223372036854775807 AS h2,
    hashint8extended(s.n, 3) & 9223372036854775807 AS h3,
    hashint8extended(s.n, 4) & 9223372036854775807 AS h4,
    hashint8extended(s.n, 5) & 9223372036854775807 AS h5,
    hashint8extended(s.n, 6) & 9223372036854775807 AS h6,
    hashint8extended(s.n, 7) & 9223372036854775807 AS h7,
    hashint8extended(s.n, 8) & 9223372036854775807 AS h8) r
JOIN models m ON r.h1 % 100 BETWEEN m.lo AND m.hi
JOIN versions v ON r.h2 % 10000 BETWEEN v.lo AND v.hi;

ALTER TABLE dev ADD COLUMN boot_ms bigint, ADD COLUMN reg_ms bigint,
    ADD COLUMN refresh_ms bigint, ADD COLUMN boot_dt text, ADD COLUMN reg_dt text,
    ADD COLUMN refresh_dt text;
-- Booted uptime seconds before the last Inform; registered up to a year before that;
-- last refreshed (GetParameterNames + GetParameterValues) up to a week before the Inform.
UPDATE dev SET boot_ms = inform_ms - uptime * 1000,
    reg_ms = inform_ms - uptime * 1000 - h6 % (365 * 86400000::bigint),
    refresh_ms = greatest(inform_ms - uptime * 1000 - h6 % (365 * 86400000::bigint),
                          inform_ms - h7 % (7 * 86400000::bigint));
UPDATE dev SET
    boot_dt = to_char(to_timestamp(boot_ms / 1000) AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    reg_dt = to_char(to_timestamp(reg_ms / 1000) AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    refresh_dt = to_char(to_timestamp(refresh_ms / 1000) AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS"Z"');
ALTER TABLE dev ADD PRIMARY KEY (id);
ANALYZE dev;
SQL
}

# The definitions of the indexes and constraints of the tables loaded, saved; then dropped.
drop_indexes() {
    sql <<SQL
CREATE TABLE "$GEN".saved AS
SELECT 1 AS ord, c.relname AS tbl, con.conname AS name,
    format('ALTER TABLE %I ADD CONSTRAINT %I %s', c.relname, con.conname,
        pg_get_constraintdef(con.oid)) AS ddl
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = '$SCHEMA' AND c.relname IN ('devices', 'params', 'tags', 'events')
    AND con.contype IN ('p', 'u')
UNION ALL
SELECT 2, i.tablename, i.indexname, i.indexdef
FROM pg_indexes i
WHERE i.schemaname = '$SCHEMA' AND i.tablename IN ('devices', 'params', 'tags', 'events')
    AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                    WHERE con.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass);
CREATE TABLE "$GEN".indexdefs_before AS
SELECT tablename, indexname, indexdef FROM pg_indexes
WHERE schemaname = '$SCHEMA' AND tablename IN ('devices', 'params', 'tags', 'events');
SQL
    sql -At -c "SELECT ord, tbl, name, ddl FROM \"$GEN\".saved ORDER BY ord, tbl, name" |
        sed 's/^/  saved: /' >&2
    sql -At -c "SELECT CASE ord WHEN 1 THEN format('ALTER TABLE %I DROP CONSTRAINT %I;', tbl, name)
                               ELSE format('DROP INDEX %I;', name) END
                FROM \"$GEN\".saved ORDER BY ord DESC" | sql
    # No autovacuum while loading: VACUUM (ANALYZE) runs once at the end.
    sql -c "ALTER TABLE params SET (autovacuum_enabled = false)" \
        -c "ALTER TABLE devices SET (autovacuum_enabled = false)" \
        -c "ALTER TABLE tags SET (autovacuum_enabled = false)" \
        -c "ALTER TABLE events SET (autovacuum_enabled = false)"
}

load_paths() {
    sql -c "INSERT INTO paths (path) SELECT path FROM \"$GEN\".tmpl ORDER BY path" \
        -c "ALTER TABLE \"$GEN\".tmpl ADD COLUMN path_id bigint" \
        -c "UPDATE \"$GEN\".tmpl t SET path_id = p.id FROM paths p WHERE p.path = t.path"
}

load_devices() {
    sql <<SQL
INSERT INTO devices (id, device_id, manufacturer, oui, product_class, serial_number,
    registered, last_inform, last_boot, last_bootstrap, cwmp_version, remote_address,
    cr_username, cr_password)
OVERRIDING SYSTEM VALUE
SELECT id, device_id, manufacturer, oui, product_class, serial, reg_ms, inform_ms, boot_ms,
    reg_ms, cwmp, ip, cr_username, cr_password
FROM "$GEN".dev ORDER BY id;
SQL
    sql -c "SELECT setval(pg_get_serial_sequence('devices', 'id'),
        (SELECT max(id) FROM devices))" >/dev/null
}

load_tags() {
    sql <<SQL
INSERT INTO tags (device, tag)
SELECT id, 'region-' || lpad((1 + h8 % 100)::text, 3, '0') FROM "$GEN".dev
UNION ALL SELECT id, 'lab' FROM "$GEN".dev WHERE (h8 >> 8) % 100 = 0
UNION ALL SELECT id, 'trial' FROM "$GEN".dev WHERE (h8 >> 16) % 10000 = 0
ORDER BY 1, 2;
SQL
}

# EVENTS Informs per device, an hour apart, the last at its last Inform; the first after
# the boot is a BOOT.
load_events() {
    ((EVENTS > 0)) || return 0
    sql <<SQL
INSERT INTO events (device, ts, codes, retry_count)
SELECT g.id, g.inform_ms - k * 3600000,
    CASE WHEN g.inform_ms - k * 3600000 - g.boot_ms < 3600000
        THEN '[["1 BOOT",""]]' ELSE '[["2 PERIODIC",""]]' END, 0
FROM "$GEN".dev g, generate_series(0, $EVENTS - 1) k
WHERE g.inform_ms - k * 3600000 >= g.boot_ms
ORDER BY 2;
SQL
}

# The parameters of devices $1..$2, in one transaction: device by device, the template's
# rows (those of the hosts the device has), each with its value.
load_params_chunk() {
    local lo=$1 hi=$2 t0
    t0=$(date +%s.%N)
    sql <<SQL
INSERT INTO params (device, path, object, writable, value, type, num, ts)
SELECT g.id, t.path_id, t.object, t.writable, v.value, t.code, $NUM_SQL,
    CASE WHEN t.inform THEN g.inform_ms ELSE g.refresh_ms END
FROM "$GEN".dev g
-- OFFSET 0 keeps the template an inner loop: a device's rows are written together.
CROSS JOIN LATERAL (SELECT * FROM "$GEN".tmpl t
                    WHERE t.host IS NULL OR t.host <= g.hosts OFFSET 0) t
CROSS JOIN LATERAL (SELECT hashint8extended(g.id * 4096 + t.id, 9) & 9223372036854775807 AS h) r
CROSS JOIN LATERAL (SELECT CASE WHEN t.object THEN NULL ELSE $VALUE_SQL END AS value) v
WHERE g.id BETWEEN $lo AND $hi;
SQL
    log "  params of devices $lo..$hi: $(elapsed "$t0") s"
}
export -f load_params_chunk sql log elapsed
export SCHEMA GEN PSQL DATABASE_URL NUM_SQL VALUE_SQL

load_params() {
    local lo
    for ((lo = 1; lo <= DEVICES; lo += CHUNK)); do
        echo "$lo $((lo + CHUNK - 1 < DEVICES ? lo + CHUNK - 1 : DEVICES))"
    done | xargs -P "$JOBS" -L 1 bash -c 'set -euo pipefail; load_params_chunk "$0" "$1"'
}

# Indexes and constraints made again, one at a time, each timed.
restore_indexes() {
    local ord tbl name ddl t0
    while IFS=$'\t' read -r ord tbl name ddl; do
        t0=$(date +%s.%N)
        PGOPTIONS_EXTRA="-c maintenance_work_mem=$MAINTENANCE_WORK_MEM -c max_parallel_maintenance_workers=1" \
            sql -c "$ddl" </dev/null
        local secs
        secs=$(elapsed "$t0")
        log "  $name: $secs s"
        SUMMARY+=("| &nbsp;&nbsp;$name | $secs |")
    done < <(sql -At -F $'\t' -c "SELECT ord, tbl, name, ddl FROM \"$GEN\".saved
        ORDER BY CASE tbl WHEN 'params' THEN 0 ELSE 1 END, ord, tbl, name")
    # The same definitions as before the load, or stop.
    local diff
    diff=$(sql -At -c "(SELECT tablename, indexname, indexdef FROM \"$GEN\".indexdefs_before
        EXCEPT SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = '$SCHEMA')
        UNION ALL
        (SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = '$SCHEMA'
            AND tablename IN ('devices', 'params', 'tags', 'events')
        EXCEPT SELECT tablename, indexname, indexdef FROM \"$GEN\".indexdefs_before)")
    if [[ -n "$diff" ]]; then
        log "indexes differ from the migration's: $diff"
        return 1
    fi
    log "  indexes as the migration made them: $(sql_value "SELECT count(*) FROM \"$GEN\".indexdefs_before")"
    sql -c "SELECT setval(pg_get_serial_sequence('events', 'id'), greatest(1, (SELECT max(id) FROM events)))" >/dev/null
}

vacuum_analyze() {
    sql -c "ALTER TABLE params RESET (autovacuum_enabled)" \
        -c "ALTER TABLE devices RESET (autovacuum_enabled)" \
        -c "ALTER TABLE tags RESET (autovacuum_enabled)" \
        -c "ALTER TABLE events RESET (autovacuum_enabled)"
    PGOPTIONS_EXTRA="-c maintenance_work_mem=$MAINTENANCE_WORK_MEM" \
        sql -c "VACUUM (ANALYZE) devices, params, paths, tags, events"
}

if [[ "$LOAD" == 1 ]]; then
    log "$DEVICES devices, $FIXED fixed parameters + $HOST_PARAMS per host, 1..$MAX_HOSTS hosts" \
        "(mean $MEAN_HOSTS: $((FIXED + MEAN_HOSTS * HOST_PARAMS)) parameters), $EVENTS events"
    T_LOAD=$(date +%s)
    phase "migrate (acs migrate)" prepare
    phase "helper tables (models, versions, template)" generate_helpers
    phase "per-device values ($DEVICES)" generate_devices "$DEVICES"
    phase "drop indexes and constraints" drop_indexes
    phase "paths" load_paths
    phase "devices" load_devices
    phase "tags" load_tags
    phase "events" load_events
    phase "params ($JOBS sessions, $CHUNK devices a transaction)" load_params
    phase "indexes and constraints again" restore_indexes
    phase "VACUUM (ANALYZE)" vacuum_analyze
    SUMMARY+=("| **total** | **$(($(date +%s) - T_LOAD))** |")
    sql -c "DROP SCHEMA \"$GEN\" CASCADE"
fi

COUNTS=$(sql_value "SELECT (SELECT count(*) FROM devices) || ' devices, '
    || count(*) || ' params rows (' || count(*) FILTER (WHERE NOT object) || ' parameters, '
    || count(*) FILTER (WHERE object) || ' objects), '
    || (SELECT count(*) FROM paths) || ' paths, ' || (SELECT count(*) FROM tags) || ' tags, '
    || (SELECT count(*) FROM events) || ' events' FROM params")
echo
echo "## Load"
echo
echo "$COUNTS; $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
if ((${#SUMMARY[@]} > 0)); then
    echo
    echo "| phase | seconds |"
    echo "|---|---:|"
    printf '%s\n' "${SUMMARY[@]}"
fi

echo
echo "## Size"
echo
echo "| relation | of | size | with its indexes | bytes per device |"
echo "|---|---|---:|---:|---:|"
sql -At -F ' | ' -c "SELECT '| ' || c.relname,
    CASE c.relkind WHEN 'i' THEN 'index of ' || t.relname ELSE 'table' END,
    pg_size_pretty(CASE c.relkind WHEN 'i' THEN pg_relation_size(c.oid)
        ELSE pg_table_size(c.oid) END),
    CASE c.relkind WHEN 'r' THEN pg_size_pretty(pg_total_relation_size(c.oid)) ELSE '' END,
    round(CASE c.relkind WHEN 'i' THEN pg_relation_size(c.oid)
        ELSE pg_table_size(c.oid) END / $DEVICES::numeric) || ' |'
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index x ON x.indexrelid = c.oid
LEFT JOIN pg_class t ON t.oid = x.indrelid
WHERE n.nspname = '$SCHEMA' AND c.relkind IN ('r', 'i')
    AND coalesce(t.relname, c.relname) IN ('devices', 'params', 'paths', 'tags', 'events')
ORDER BY coalesce(t.relname, c.relname), c.relkind DESC, c.relname"
sql -At -c "SELECT '| the other ' || count(*) || ' tables (empty) | | | '
    || pg_size_pretty(sum(pg_total_relation_size(c.oid))) || ' | |'
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = '$SCHEMA' AND c.relkind = 'r'
        AND c.relname NOT IN ('devices', 'params', 'paths', 'tags', 'events')"
echo
sql_value "SELECT 'Schema total ' || pg_size_pretty(sum(pg_total_relation_size(c.oid)))
    || ' (' || sum(pg_total_relation_size(c.oid)) || ' bytes): '
    || round(sum(pg_total_relation_size(c.oid)) / $DEVICES::numeric) || ' bytes per device; '
    || 'params ' || round(pg_total_relation_size('params')
        / nullif((SELECT reltuples FROM pg_class WHERE oid = 'params'::regclass), 0)::numeric, 1)
    || ' bytes per row with its index entries.'
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = '$SCHEMA' AND c.relkind = 'r'"

[[ "$QUERY" == 1 ]] || exit 0

# ---------------------------------------------------------------------------------------
# Queries through acs serve.
CWMP_PORT=$(free_port)
API_PORT=$(free_port)
write_config "$DATABASE_URL" "$CONFIG"
cp "$CONFIG" "$OUT/acs.toml"

start_acs() {
    local config=$1 logfile=$2
    "$ACS_BIN" serve --config "$config" >"$logfile" 2>&1 &
    SERVER_PID=$!
    if ! wait_for_port "$API_PORT" "$SERVER_PID"; then
        log "acs serve did not start; last lines of $logfile:"
        tail -n 20 "$logfile" >&2 || true
        return 1
    fi
}

TOKEN=$("$ACS_BIN" token create --name "bench-$$" --config "$CONFIG" 2>>"$OUT/token.log" | tail -1)

# What to ask for: devices picked at random (fixed seed), their id, serial and WAN MAC.
sql -At -F $'\t' -c "SELECT device_id, serial_number, (SELECT value FROM params x
        WHERE x.device = d.id AND x.path = (SELECT id FROM paths
            WHERE path = 'Device.Ethernet.Interface.1.MACAddress'))
    FROM devices d
    WHERE id IN (SELECT 1 + (hashint8extended(k, 99) & 9223372036854775807) % $DEVICES
                 FROM generate_series(1, $((ITERATIONS + WARMUP))) k)" >"$TMP/samples.tsv"
LAST_INFORM_MAX=$(sql_value "SELECT max(last_inform) FROM devices")
RARE_VERSION=$(sql_value "SELECT value FROM params WHERE path = (SELECT id FROM paths
    WHERE path = 'Device.DeviceInfo.SoftwareVersion') AND value = '5.0.0-rc1' LIMIT 1")
RARE_VERSION=${RARE_VERSION:-5.0.0-rc1}

cat >"$TMP/client.py" <<'PY'
"""Times GET /devices queries over one keep-alive connection."""
import http.client, json, statistics, sys, time, urllib.parse

port, token, samples_path, iterations, warmup, last_inform, rare, out = sys.argv[1:9]
iterations, warmup, last_inform = int(iterations), int(warmup), int(last_inform)
samples = [l.rstrip("\n").split("\t") for l in open(samples_path) if l.strip()]
n = iterations + warmup
samples = (samples * (n // max(len(samples), 1) + 1))[:n]

PROJ = ("_id,_lastInform,_tags,Device.DeviceInfo.ModelName,Device.DeviceInfo.SoftwareVersion,"
        "Device.IP.Interface.1.IPv4Address.1.IPAddress")
hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last_inform / 1000 - 3600))

# name, description, function of the iteration -> (query, projection, sort, limit)
QUERIES = [
    ("all", 'no filter, limit 100, projection `_id` (the first page of the device list)',
     lambda i: ({}, "_id", None, 100)),
    ("id", 'one device by `_id`, 6 fields', lambda i: ({"_id": samples[i][0]}, PROJ, None, None)),
    ("serial", 'one device by `_deviceId._SerialNumber`, 6 fields',
     lambda i: ({"_deviceId._SerialNumber": samples[i][1]}, PROJ, None, None)),
    ("mac", 'one device by `Device.Ethernet.Interface.1.MACAddress` (unique), 6 fields',
     lambda i: ({"Device.Ethernet.Interface.1.MACAddress": samples[i][2]}, PROJ, None, None)),
    ("full", 'one device by `_id`, whole document', lambda i: ({"_id": samples[i][0]}, None, None, None)),
    ("tag-region", '`_tags` = one of 100 regions (1%), limit 100, 6 fields',
     lambda i: ({"_tags": "region-%03d" % (1 + i % 100)}, PROJ, None, 100)),
    ("tag-region-id", '`_tags` = a region, limit 100, projection `_id`',
     lambda i: ({"_tags": "region-%03d" % (1 + i % 100)}, "_id", None, 100)),
    ("tag-rare", '`_tags` = `trial` (0.01%), limit 100, 6 fields',
     lambda i: ({"_tags": "trial"}, PROJ, None, 100)),
    ("version-rare", '`Device.DeviceInfo.SoftwareVersion` = `%s` (0.05%%), limit 100, 6 fields' % rare,
     lambda i: ({"Device.DeviceInfo.SoftwareVersion": rare}, PROJ, None, 100)),
    ("version-common", '`Device.DeviceInfo.SoftwareVersion` = `4.2.7` (22%), limit 100, 6 fields',
     lambda i: ({"Device.DeviceInfo.SoftwareVersion": "4.2.7"}, PROJ, None, 100)),
    ("last-inform", '`_lastInform` > an hour before the latest, newest first, limit 100, 6 fields',
     lambda i: ({"_lastInform": {"$gt": hour_ago}}, PROJ, {"_lastInform": -1}, 100)),
    # The broad ones again, counting every match (`count=exact`) instead of stopping at the
    # server's api.count_limit.
    ("all-exact", 'as `all`, `count=exact`', lambda i: ({}, "_id", None, 100, "exact")),
    ("tag-region-exact", 'as `tag-region`, `count=exact`',
     lambda i: ({"_tags": "region-%03d" % (1 + i % 100)}, PROJ, None, 100, "exact")),
    ("version-common-exact", 'as `version-common`, `count=exact`',
     lambda i: ({"Device.DeviceInfo.SoftwareVersion": "4.2.7"}, PROJ, None, 100, "exact")),
]

def url(q, proj, sort, limit, count=None):
    args = {"query": json.dumps(q, separators=(",", ":"))}
    if count is not None:
        args["count"] = count
    if proj is not None:
        args["projection"] = proj
    if sort is not None:
        args["sort"] = json.dumps(sort, separators=(",", ":"))
    if limit is not None:
        args["limit"] = str(limit)
    return "/devices?" + urllib.parse.urlencode(args)

conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=600)
def get(path):
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = conn.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t0) * 1000
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status} {body[:300]!r}")
    total = r.getheader("total")
    if r.getheader("total-exact") == "false":
        total += "+"  # a lower bound: more matched than the server counts by default
    return ms, len(body), total, len(json.loads(body))

only = set(sys.argv[9].split()) if len(sys.argv) > 9 and sys.argv[9] else None
results = []
for name, desc, make in QUERIES:
    if only is not None and name not in only:
        continue
    times, sizes, totals, items = [], [], [], []
    for i in range(n):
        ms, size, total, count = get(url(*make(i)))
        if i >= warmup:
            times.append(ms); sizes.append(size); totals.append(total); items.append(count)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    results.append({"name": name, "desc": desc, "median_ms": statistics.median(times),
                    "p90_ms": p90, "max_ms": times[-1], "bytes": int(statistics.median(sizes)),
                    "total": totals[len(totals) // 2], "items": items[len(items) // 2],
                    "example": url(*make(warmup))})
    r = results[-1]
    print(f"{name}: median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f}, max {r['max_ms']:.1f}",
          file=sys.stderr)
json.dump(results, open(out, "w"), indent=1)
PY

client() {
    python3 "$TMP/client.py" "$API_PORT" "$TOKEN" "$TMP/samples.tsv" "$1" "$2" \
        "$LAST_INFORM_MAX" "$RARE_VERSION" "$3" "${4:-}"
}

start_acs "$CONFIG" "$OUT/acs.log"
log "acs serve on 127.0.0.1:$API_PORT; $ITERATIONS runs of each query after $WARMUP"
client "$ITERATIONS" "$WARMUP" "$OUT/queries.json"
stop_server

echo
echo "## Queries"
echo
echo "GET /devices through acs serve on PostgreSQL (pool as configured), one client," \
    "$ITERATIONS runs after $WARMUP; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
python3 - "$OUT/queries.json" "$SLOW_MS" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
slow = float(sys.argv[2])
print("| query | median ms | p90 ms | max ms | response bytes | items | total |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    mark = " **(over %g ms)**" % slow if r["median_ms"] > slow else ""
    print(f"| {r['name']}: {r['desc']}{mark} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} "
          f"| {r['max_ms']:.1f} | {r['bytes']:,} | {r['items']} | {r['total']} |")
PY

SLOW=$(python3 -c 'import json, sys; print(" ".join(r["name"] for r in json.load(open(sys.argv[1])) if r["median_ms"] > float(sys.argv[2])))' \
    "$OUT/queries.json" "$SLOW_MS")
[[ -n "$SLOW" ]] || exit 0

# Each statement of a log excerpt with a plan: how often it took over EXPLAIN_MS, and each
# distinct plan shape once (the run of median duration), long id lists shortened.
cat >"$TMP/plans.py" <<'PY'
import re, statistics, sys
entries, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"LOG:  duration: ([0-9.]+) ms  plan:", line)
    if m:
        cur = {"ms": float(m.group(1)), "lines": []}
        entries.append(cur)
    elif cur is not None and line.startswith("\t"):
        cur["lines"].append(re.sub(r"'\{[0-9,]{60,}\}'", "'{...}'", line[1:].rstrip()))
    else:
        cur = None
by_text = {}
for e in entries:
    text = next((l[len("Query Text: "):] for l in e["lines"] if l.startswith("Query Text: ")), "?")
    by_text.setdefault(text, []).append(e)
if not by_text:
    print("(no statement over the threshold)\n")
for text, es in by_text.items():
    ms = sorted(e["ms"] for e in es)
    print(f"`{text}`\n\n{len(es)} runs: {ms[0]:.1f} / {statistics.median(ms):.1f} / {ms[-1]:.1f} ms"
          " (min / median / max)\n")
    shapes = {}
    for e in es:
        plan = [l for l in e["lines"] if not l.startswith("Query Text: ")]
        shape = tuple(re.sub(r"\(.*?\)|'.*?'|[0-9.]+", "", l) for l in plan if "->" in l or l[:1].isalpha())
        shapes.setdefault(shape, []).append((e["ms"], plan))
    for runs in shapes.values():
        runs.sort(key=lambda r: r[0])
        ms, plan = runs[len(runs) // 2]
        print(f"{len(runs)} of them with this plan ({ms:.1f} ms):\n")
        print("```\n" + "\n".join(plan) + "\n```\n")
PY

# auto_explain on the ACS's own connections: session settings in the URL (sqlx passes
# `options[...]` in the startup packet); the plans go to the server's log.
EXPLAIN_URL="$DATABASE_URL?options%5Bsession_preload_libraries%5D=auto_explain"
EXPLAIN_URL+="&options%5Bauto_explain.log_min_duration%5D=${EXPLAIN_MS}"
EXPLAIN_URL+="&options%5Bauto_explain.log_analyze%5D=on"
EXPLAIN_URL+="&options%5Bauto_explain.log_buffers%5D=on"
write_config "$EXPLAIN_URL" "$TMP/explain.toml"
start_acs "$TMP/explain.toml" "$OUT/acs-explain.log"
log "plans of $SLOW (auto_explain, statements over $EXPLAIN_MS ms)"
{
    echo
    echo "## Plans of the queries over $SLOW_MS ms"
    echo
    echo "auto_explain (ANALYZE, BUFFERS) of the statements over $EXPLAIN_MS ms while each" \
        "query ran 10 times, from $PG_LOG."
    for name in $SLOW; do
        from=$(($(stat -c %s "$PG_LOG") + 1))
        client 3 7 "$TMP/explain-$name.json" "$name"
        sleep 1
        tail -c +"$from" "$PG_LOG" >"$OUT/plans-$name.log"
        echo
        echo "### $name"
        echo
        python3 "$TMP/plans.py" "$OUT/plans-$name.log"
    done
} | tee "$OUT/plans.md"
stop_server
