//! Regenerates the committed vendor-level test keys of the simulated AMD PKI:
//! `vectors/keys/snp/{milan,genoa,turin}-{ark,ask,asvk}.pem` (RSA-4096, PKCS#8).
//!
//! `cargo run --release -p sim-snp --example gen_vendor_keys -- vectors/keys/snp`
//!
//! Each key comes from the ChaCha20 stream `sim_core::rng::seeded("snp-vendor-key/<product>/<role>", 0)`,
//! so the same `rsa` crate version regenerates the same keys. They are committed because RSA-4096
//! generation takes about half a second a key, too slow for every run.

use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use sim_snp::pki::Role;
use sim_snp::Product;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "vectors/keys/snp".to_string());
    std::fs::create_dir_all(&dir)?;
    for product in Product::ALL {
        for role in [Role::Ark, Role::Ask, Role::Asvk] {
            let name = format!("{}-{}", product.cli_name(), role.file_stem());
            let mut rng = sim_core::rng::seeded(&format!("snp-vendor-key/{name}"), 0);
            let key = rsa::RsaPrivateKey::new(&mut rng, 4096)?;
            let pem = key.to_pkcs8_pem(LineEnding::LF)?;
            let path = std::path::Path::new(&dir).join(format!("{name}.pem"));
            sim_core::files::write_atomic(&path, pem.as_bytes())?;
            println!("{}", path.display());
        }
    }
    Ok(())
}
