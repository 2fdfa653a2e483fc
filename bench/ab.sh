#!/usr/bin/env bash
# Compares two builds of the ACS in the same run: alternates `bench/sessions.sh` runs of
# target `acs` with each binary (A, B, A, B, ...), ROUNDS times (default 3), and prints the
# table rows prefixed with the binary's name. Take the median of each binary's rows.
#
#   cp target/release/acs /tmp/acs-before   # build, change, build again, then:
#   bench/ab.sh /tmp/acs-before target/release/acs
#
# Settings (environment): ROUNDS (3), DURATION (10 s measured), WARMUP (5 s), and every
# other setting of bench/sessions.sh (RUNS is always acs; BUILD is always 0).
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# != 2)); then
    echo "usage: bench/ab.sh BINARY_A BINARY_B" >&2
    exit 2
fi
for b in "$1" "$2"; do
    [[ -x "$b" ]] || { echo "bench/ab.sh: $b is not an executable" >&2; exit 2; }
done
for _ in $(seq 1 "${ROUNDS:-3}"); do
    for b in "$1" "$2"; do
        ACS_BIN=$b BUILD=0 RUNS=acs DURATION=${DURATION:-10} WARMUP=${WARMUP:-5} \
            bench/sessions.sh 2>/dev/null | { grep '^| acs' || echo '| acs | no result |'; } |
            sed "s|^|$(basename "$b") |"
    done
done
