#!/usr/bin/env bash
# Instructions per decode of each benchmark message, counted by callgrind: repeatable for
# the same binary and input whatever else the machine does, unlike wall-clock time.
# Needs valgrind. Prints: message, bytes, instructions per decode, instructions per byte.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --profile bench -p cwmp --example decode_loop
bin=target/release/examples/decode_loop
for msg in inform_20 gpv_response_500; do
  count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$msg" "$1" 2>&1 \
      | sed -n 's/.*Collected : \([0-9]*\).*/\1/p; s/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d , | head -1
  }
  # The difference between 110 and 10 decodes removes the fixed cost (setup, encoding once).
  a=$(count 10); b=$(count 110)
  bytes=$("$bin" "$msg" 1 | sed -n 's/.*: \([0-9]*\) bytes.*/\1/p')
  python3 -c "per=($b-$a)/100; print(f'| $msg | $bytes | {per:,.0f} | {per/$bytes:.1f} |')"
done
