//! `vectors/keys/gpu/`: the simulated CA keys and certificates (the generator of that folder).
//! `CVMSIM_REGENERATE=1 cargo test -p sim-gpu --test keys` rewrites it; otherwise this test fails when
//! the committed files differ from what the code makes.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use sim_gpu::pki::{DeviceCas, RimPki};

#[test]
fn committed_gpu_keys_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/keys/gpu");
    let d = DeviceCas::new().unwrap();
    let r = RimPki::new().unwrap();
    let mut files = Vec::new();
    for (name, kc) in [
        ("device-l1", &d.l1),
        ("device-l2", &d.l2),
        ("device-l3", &d.l3),
        ("rim-root", &r.root),
        ("rim-ca", &r.ca),
        ("rim-l3", &r.l3),
        ("rim-signer", &r.signer),
    ] {
        files.push((format!("{name}.key.pem"), kc.key_pem()));
        files.push((format!("{name}.crt.pem"), kc.pem()));
    }
    if std::env::var("CVMSIM_REGENERATE").is_ok() {
        std::fs::create_dir_all(&dir).unwrap();
        for (n, t) in &files {
            std::fs::write(dir.join(n), t).unwrap();
        }
    }
    for (n, t) in &files {
        let got = std::fs::read_to_string(dir.join(n)).unwrap_or_default();
        assert_eq!(
            &got, t,
            "{n} is stale: run CVMSIM_REGENERATE=1 cargo test -p sim-gpu --test keys"
        );
    }
}
