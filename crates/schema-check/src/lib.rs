//! Test support shared by the crates' integration tests: validates CWMP envelopes against
//! the official Broadband Forum schemas with `shared/bbf/validate-envelope` (xmllint), in
//! one batch. The repository sits beside `shared/`; the product never reads it.
//!
//! A test that validates fails — never skips — when the script or xmllint is missing.
#![forbid(unsafe_code)]
#![allow(clippy::panic, clippy::expect_used)]

use std::path::PathBuf;

/// The validation script, `../shared/bbf/validate-envelope` beside the repository.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bbf/validate-envelope")
}

/// Validates every envelope (duplicates once); panics with xmllint's report naming `who`
/// ("the ACS", "the agent") when one does not validate.
pub fn validate<T: AsRef<[u8]>>(envelopes: &[T], who: &str) {
    let mut unique: Vec<&[u8]> = Vec::new();
    for e in envelopes {
        if !unique.contains(&e.as_ref()) {
            unique.push(e.as_ref());
        }
    }
    if unique.is_empty() {
        return;
    }
    let script = script();
    assert!(
        script.exists(),
        "{} is needed (the repository sits beside shared/)",
        script.display()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files: Vec<PathBuf> = unique
        .iter()
        .enumerate()
        .map(|(i, xml)| {
            let f = dir.path().join(format!("{i}.xml"));
            std::fs::write(&f, xml).expect("envelope written");
            f
        })
        .collect();
    let out = std::process::Command::new(&script)
        .args(&files)
        .output()
        .expect("validate-envelope runs (needs bash, python3 and xmllint)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "an envelope {who} sent does not validate:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches(": valid").count(),
        files.len(),
        "every envelope {who} sent validated:\n{stdout}"
    );
}
