#!/usr/bin/env bash
# Runs the codec benchmark and prints a Markdown table of medians: time per message,
# MB/s (decimal) and messages/s, for each message, operation and in-run baseline.
#   bench/codec.sh [criterion args...]     e.g. bench/codec.sh --measurement-time 10
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p cwmp --bench codec -- "$@" > target/codec-bench.log 2>&1 || { cat target/codec-bench.log; exit 1; }
python3 - <<'PY'
import json, os, re
log = open("target/codec-bench.log").read()
sizes = dict(re.findall(r"^(\w+): (\d+) bytes$", log, re.M))
print(f"| message | size | operation | median time | MB/s | messages/s |")
print(f"|---|---:|---|---:|---:|---:|")
for group in ["inform_20", "gpv_response_500"]:
    size = int(sizes[group])
    for op in ["decode", "encode", "baseline_quick_xml_tokenize", "baseline_quick_xml_nsreader"]:
        path = f"target/criterion/{group}/{op}/new/estimates.json"
        median_ns = json.load(open(path))["median"]["point_estimate"]
        t = f"{median_ns/1000:.2f} µs"
        print(f"| {group} | {size} B | {op} | {t} | {size / median_ns * 1000:.0f} | {1e9 / median_ns:,.0f} |")
PY
