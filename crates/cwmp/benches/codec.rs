//! Decoding and encoding throughput of the envelope codec.
//!
//! Inputs: an Inform with 20 parameters (the periodic Inform of a TR-181 gateway) and a
//! GetParameterValuesResponse with 500 parameters. Baselines, measured in the same run on
//! the same bytes: quick-xml tokenizing alone, the floor under any decoder built on it,
//! and quick-xml's `NsReader` resolving every namespace, the alternative to our own scope.
//!
//! Run: `cargo bench -p cwmp --bench codec`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cwmp::{Body, Envelope};
use messages::{gpv_500, inform_20};

#[path = "support/messages.rs"]
mod messages;

/// Tokenize with quick-xml and touch every event: the baseline.
fn tokenize(xml: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return n,
            Ok(_) => n += 1,
        }
    }
}

/// Tokenize with quick-xml's `NsReader`, resolving the namespace of every element and
/// attribute: what the decoder would cost if it used quick-xml's namespace resolution
/// instead of its own scope (see src/xml/reader.rs).
fn tokenize_resolving(xml: &str) -> usize {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut n = 0;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) | Err(_) => return n,
            Ok((ns, Event::Start(start))) => {
                n += usize::from(matches!(ns, ResolveResult::Bound(_)));
                for attr in start.attributes().flatten() {
                    let (ns, _) = reader.resolver().resolve_attribute(attr.key);
                    n += usize::from(matches!(ns, ResolveResult::Bound(_)));
                }
            }
            Ok(_) => n += 1,
        }
    }
}

fn bench_message(c: &mut Criterion, name: &str, env: &Envelope<'_>) {
    let xml = env.encode().expect("valid envelope");
    let mut group = c.benchmark_group(name);
    // Decimal megabytes, so that BENCHMARKS.md quotes MB/s.
    group.throughput(Throughput::BytesDecimal(xml.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            let env = cwmp::decode(black_box(xml.as_bytes())).expect("decodes");
            assert!(matches!(
                env.body,
                Body::Inform(_) | Body::GetParameterValuesResponse(_)
            ));
            env
        })
    });
    group.bench_function("encode", |b| {
        b.iter(|| black_box(env).encode().expect("encodes"))
    });
    group.bench_function("baseline_quick_xml_tokenize", |b| {
        b.iter(|| tokenize(black_box(&xml)))
    });
    group.bench_function("baseline_quick_xml_nsreader", |b| {
        b.iter(|| tokenize_resolving(black_box(&xml)))
    });
    group.finish();
    println!("{name}: {} bytes", xml.len());
}

fn codec(c: &mut Criterion) {
    bench_message(c, "inform_20", &inform_20());
    bench_message(c, "gpv_response_500", &gpv_500());
}

criterion_group!(benches, codec);
criterion_main!(benches);
