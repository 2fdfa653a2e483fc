#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with the seeds: the codec's fixtures and the captures in
# ../shared/interop for the envelope decoder, fuzz/seeds/<target>/ for the others.
# cargo-fuzz then grows the corpus there (it is not committed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
corpus="$here/corpus"
mkdir -p "$corpus/envelope" "$corpus/digest_header" "$corpus/udp_connection_request"
cp "$here"/../crates/cwmp/tests/fixtures/*/*.xml "$corpus/envelope/"
if [ -d "$here/../../shared/interop" ]; then cp "$here"/../../shared/interop/*.xml "$corpus/envelope/"; fi
cp "$here"/seeds/digest_header/* "$corpus/digest_header/"
cp "$here"/seeds/udp_connection_request/* "$corpus/udp_connection_request/"
echo "seeded: $(ls "$corpus/envelope" | wc -l) envelope, $(ls "$corpus/digest_header" | wc -l) digest_header, $(ls "$corpus/udp_connection_request" | wc -l) udp_connection_request"
