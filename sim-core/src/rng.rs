//! The only source of randomness: ChaCha20 seeded from a name and a seed.
//!
//! `seeded(name, seed)` keys a ChaCha20 stream with SHA-256(`"cvmsim\0" ‖ name ‖ 0x00 ‖ seed as u64 LE`), so
//! every consumer gets its own stream and the same name and seed give the same bytes on every machine.

use rand_chacha::rand_core::{RngCore, SeedableRng};
pub use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// A ChaCha20 stream keyed by `name` and `seed`.
pub fn seeded(name: &str, seed: u64) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"cvmsim\0");
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(seed.to_le_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// `N` bytes from the stream keyed by `name` and `seed`.
pub fn bytes<const N: usize>(name: &str, seed: u64) -> [u8; N] {
    let mut out = [0u8; N];
    seeded(name, seed).fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_named_and_repeatable() {
        assert_eq!(bytes::<32>("a", 1), bytes::<32>("a", 1));
        assert_ne!(bytes::<32>("a", 1), bytes::<32>("a", 2));
        assert_ne!(bytes::<32>("a", 1), bytes::<32>("b", 1));
    }
}
