//! The memory encryption engine: one key per ASID, tweaked by the system physical address (snp.md §4.7).
//!
//! AMD does not publish the exact tweak function of its memory controller; the APM and the CipherLeaks
//! and Heracles papers establish only that ciphertext is a deterministic function of (key, SPA,
//! plaintext). The model uses the standard constructions with the **4 KiB page as the data unit and its
//! system physical address as the tweak**:
//!
//! - **AES-128 XEX** (Zen 3, and Zen 4+ when policy bit 22 is clear): Rogaway's XEX with one key `K`:
//!   `Δ_0 = AES_K(SPA as 128-bit little-endian)`, `Δ_j = Δ_0·α^j` in GF(2^128) (the XTS polynomial),
//!   `C_j = AES_K(P_j ⊕ Δ_j) ⊕ Δ_j` for the 256 blocks of the page. (This equals XTS with both key halves
//!   equal, IEEE 1619 test vector 1.)
//! - **AES-256-XTS** (Zen 4+, policy bit 22 MEM_AES_256_XTS): IEEE 1619 XTS with a 512-bit key, data unit
//!   = the page, tweak = its SPA. A page has no partial block, so no ciphertext stealing.
//!
//! So the same plaintext at the same SPA under the same key gives the same ciphertext, and moving a page
//! changes it. Whole pages go through [`sim_core::xts`], the mode shared with the TDX model: the `aes`
//! crate's multi-block `encrypt_blocks`/`decrypt_blocks` on all 256 blocks at once, never block by block.

use aes::Block;
use aes::{Aes128, Aes256};
use cipher::{BlockEncrypt, KeyInit};
use sim_core::xts::{xts_in_place, Direction, NoHook};

/// 16-byte blocks in a page (the XTS data unit).
const BLOCKS_PER_PAGE: usize = 256;

/// A 4 KiB page of bytes.
pub type Page = [u8; 4096];

/// The cipher of one ASID.
#[derive(Clone)]
pub enum Engine {
    /// AES-128 XEX, single key.
    Xex128(Box<Aes128>),
    /// AES-256-XTS: data key, tweak key.
    Xts256(Box<(Aes256, Aes256)>),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Engine {
    /// AES-128 XEX with `key`.
    pub fn xex128(key: &[u8; 16]) -> Self {
        Engine::Xex128(Box::new(Aes128::new(&(*key).into())))
    }

    /// AES-256-XTS with data key `k1` and tweak key `k2`.
    pub fn xts256(k1: &[u8; 32], k2: &[u8; 32]) -> Self {
        Engine::Xts256(Box::new((
            Aes256::new(&(*k1).into()),
            Aes256::new(&(*k2).into()),
        )))
    }

    /// `AES-128-XEX` or `AES-256-XTS`.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Xex128(_) => "AES-128-XEX",
            Engine::Xts256(_) => "AES-256-XTS",
        }
    }

    fn tweak0(&self, spa: u64) -> u128 {
        let mut b = Block::from(u128::from(spa).to_le_bytes());
        match self {
            Engine::Xex128(k) => k.encrypt_block(&mut b),
            Engine::Xts256(k) => k.1.encrypt_block(&mut b),
        }
        u128::from_le_bytes(b.into())
    }

    /// Encrypts the page at system physical address `spa` (4 KiB aligned) in place.
    pub fn encrypt_page(&self, spa: u64, page: &mut Page) {
        self.run(spa, page, 0, true);
    }

    /// Decrypts the page at system physical address `spa` (4 KiB aligned) in place.
    pub fn decrypt_page(&self, spa: u64, page: &mut Page) {
        self.run(spa, page, 0, false);
    }

    /// Encrypts, in place, the whole 16-byte blocks `data` of the page at `spa`, starting at block
    /// `first` (the same bytes `encrypt_page` would give for them).
    pub fn encrypt_blocks_at(&self, spa: u64, data: &mut [u8], first: usize) {
        self.run(spa, data, first, true);
    }

    /// Decrypts, in place, the whole 16-byte blocks `data` of the page at `spa` from block `first`.
    pub fn decrypt_blocks_at(&self, spa: u64, data: &mut [u8], first: usize) {
        self.run(spa, data, first, false);
    }

    fn run(&self, spa: u64, data: &mut [u8], first: usize, enc: bool) {
        let dir = if enc {
            Direction::Encrypt
        } else {
            Direction::Decrypt
        };
        let first = first.min(BLOCKS_PER_PAGE);
        let n = (data.len() / 16).min(BLOCKS_PER_PAGE - first);
        let data = &mut data[..n * 16];
        let t0 = self.tweak0(spa);
        let _ = match self {
            Engine::Xex128(k) => xts_in_place(k.as_ref(), dir, t0, first, data, &mut NoHook),
            Engine::Xts256(k) => xts_in_place(&k.0, dir, t0, first, data, &mut NoHook),
        };
    }
}
