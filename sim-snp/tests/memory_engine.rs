//! The memory encryption engine against independent implementations.
//!
//! Expected values were computed outside this crate with Python `cryptography` 48 (OpenSSL backend):
//! AES-256-XTS with `modes.XTS(tweak)` (tweak = SPA as 16 bytes little-endian), and AES-128 XEX as a
//! hand-written loop over `modes.ECB()` (`Δ0 = AES_K(tweak)`, `Δ ← Δ·x` mod x^128+x^7+x^2+x+1,
//! `C = AES_K(P ⊕ Δ) ⊕ Δ`), because `cryptography` refuses XTS with equal key halves.
//! The plaintext page is `bytes(i % 251 for i in range(4096))`, SPA 0x12345000, keys `bytes(range(16))`
//! (XEX) and `bytes(range(32))`, `bytes(range(32, 64))` (XTS).

#![allow(clippy::unwrap_used)]

use sha2::{Digest, Sha256};
use sim_snp::memory::engine::Engine;

fn page() -> [u8; 4096] {
    let mut p = [0u8; 4096];
    for (i, b) in p.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    p
}

fn key<const N: usize>(start: u8) -> [u8; N] {
    let mut k = [0u8; N];
    for (i, b) in k.iter_mut().enumerate() {
        *b = start + i as u8;
    }
    k
}

#[test]
fn xts256_matches_openssl_xts_with_spa_tweak() {
    let e = Engine::xts256(&key(0), &key(32));
    let mut p = page();
    e.encrypt_page(0x1234_5000, &mut p);
    assert_eq!(hex::encode(&p[..16]), "69aa24480c0beb0d16ce22bfc889d4c4");
    assert_eq!(hex::encode(&p[4080..]), "53abbbe4b6787743fbc1ed8ba3193fbd");
    assert_eq!(
        hex::encode(Sha256::digest(p)),
        "82559391607b91695c96ec2b8c444b8281813e49021aff643f3c48e376b9eb8c"
    );
    e.decrypt_page(0x1234_5000, &mut p);
    assert_eq!(p, page());
}

#[test]
fn xex128_matches_independent_xex() {
    let e = Engine::xex128(&key(0));
    let mut p = page();
    e.encrypt_page(0x1234_5000, &mut p);
    assert_eq!(hex::encode(&p[..16]), "cf037a0740b63314eb81997842243341");
    assert_eq!(
        hex::encode(Sha256::digest(p)),
        "5bd21ee43f1c48c9cb8d7d6534d4f26541278d694abc9a5d9e171c1c27217e8f"
    );
    e.decrypt_page(0x1234_5000, &mut p);
    assert_eq!(p, page());
}

/// IEEE 1619-2007 XTS-AES-128 test vector 1 (Key1 = Key2 = 0, data unit 0, 32 zero bytes): with equal
/// keys XTS is XEX, so the first two blocks of a zero page at SPA 0 are that vector's ciphertext.
#[test]
fn xex128_equals_ieee1619_vector1() {
    let e = Engine::xex128(&[0u8; 16]);
    let mut p = [0u8; 4096];
    e.encrypt_page(0, &mut p);
    assert_eq!(
        hex::encode(&p[..32]),
        "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e"
    );
}

#[test]
fn ciphertext_is_deterministic_per_spa_and_changes_with_address() {
    let e = Engine::xex128(&key(7));
    let (mut a, mut b, mut c) = (page(), page(), page());
    e.encrypt_page(0x5000, &mut a);
    e.encrypt_page(0x5000, &mut b);
    e.encrypt_page(0x6000, &mut c);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, page());
}

/// Encrypting one block range gives the same bytes as the whole page (last block of the page: the
/// Python values above).
#[test]
fn block_ranges_match_the_page() {
    let p = page();
    let mut last = [0u8; 16];
    last.copy_from_slice(&p[4080..]);
    Engine::xts256(&key(0), &key(32)).encrypt_blocks_at(0x1234_5000, &mut last, 255);
    assert_eq!(hex::encode(last), "53abbbe4b6787743fbc1ed8ba3193fbd");
    last.copy_from_slice(&p[4080..]);
    Engine::xex128(&key(0)).encrypt_blocks_at(0x1234_5000, &mut last, 255);
    assert_eq!(hex::encode(last), "4f8af01dab9388d8c5ffa1040d140991");
}
