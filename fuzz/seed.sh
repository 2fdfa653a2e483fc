#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with the seeds: the codec's fixtures and the captures in
# ../shared/interop for the envelope decoder, fuzz/seeds/<target>/ for the others.
# cargo-fuzz then grows the corpus there (it is not committed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
corpus="$here/corpus"
mkdir -p "$corpus/envelope" "$corpus/digest_header" "$corpus/udp_connection_request" "$corpus/session" "$corpus/nbi_input" \
  "$corpus/device_profile" "$corpus/bbf_model" "$corpus/tree_rpc" "$corpus/agent_session"
cp "$here"/../crates/cwmp/tests/fixtures/*/*.xml "$corpus/envelope/"
if [ -d "$here/../../shared/interop" ]; then cp "$here"/../../shared/interop/*.xml "$corpus/envelope/"; fi
cp "$here"/seeds/digest_header/* "$corpus/digest_header/"
cp "$here"/seeds/udp_connection_request/* "$corpus/udp_connection_request/"
cp "$here"/seeds/nbi_input/* "$corpus/nbi_input/"
# The cpe crate: device profiles (snippets of the built-in one, TR-098), BBF model XML, and
# parameter-method envelopes for the built-in device (NUL-separated sequences too).
cp "$here"/seeds/device_profile/* "$corpus/device_profile/"
cp "$here"/../crates/cpe/tests/fixtures/*.tsv "$corpus/device_profile/"
cp "$here"/seeds/bbf_model/* "$corpus/bbf_model/"
cp "$here"/seeds/tree_rpc/* "$corpus/tree_rpc/"
# The CPE agent: conversations with an ACS (written by seeds/agent_session.py).
cp "$here"/seeds/agent_session/* "$corpus/agent_session/"
# Sessions: an Inform, the empty POST, then CPE responses, NUL-separated.
interop="$here/../../shared/interop"
if [ -d "$interop" ]; then
  for rest in gpv-response spv-response gpn-response Fault-9000-for-Reboot; do
    { cat "$interop/genieacs-sim-inform.xml"; printf '\0\0'; cat "$interop/genieacs-sim-$rest.xml"; } \
      >"$corpus/session/inform-$rest"
  done
fi
for t in envelope digest_header udp_connection_request session nbi_input device_profile bbf_model tree_rpc \
  agent_session; do
  echo "seeded $t: $(ls "$corpus/$t" | wc -l)"
done
