//! The envelope decoder: never panics, and what it decodes and we can encode again
//! decodes to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The charset step an HTTP layer runs first, then the decoder.
    let Ok(utf8) = cwmp::transcode(data, None) else {
        return;
    };
    let Ok(envelope) = cwmp::decode(&utf8) else {
        return;
    };
    // Encoding refuses what the schema of the namespace forbids; what it accepts must
    // read back unchanged.
    if let Ok(xml) = envelope.encode() {
        match cwmp::decode(xml.as_bytes()) {
            Ok(again) => assert_eq!(again, envelope, "round trip changed the envelope:\n{xml}"),
            Err(e) => panic!("our own output does not decode: {e}\n{xml}"),
        }
    }
    let _ = envelope.into_owned();
});
