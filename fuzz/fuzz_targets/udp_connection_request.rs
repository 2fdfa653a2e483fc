//! The UDP Connection Request parser (TR-069 Annex G): never panics, and a parsed
//! request serializes and parses back to the same thing (when its serialization, whose
//! percent-encoding may be longer than what was parsed, still fits a datagram).
#![no_main]

use cwmp::auth::udp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = udp::parse(data) else {
        return;
    };
    let _ = request.verify("CPE57689", "secret");
    let bytes = request.to_bytes();
    if bytes.len() <= udp::MAX_DATAGRAM_LEN {
        let again = udp::parse(&bytes).expect("serialized request parses");
        assert_eq!(again, request);
    }
});
