//! TME-MK: KeyIDs, the AES-XTS memory encryption engine and the two integrity modes (tdx.md §5.6).
//!
//! **KeyIDs.** The physical address carries the KeyID in bits `[MAX_PA-1 : MAX_PA-KEYID_BITS]`. KeyID 0
//! is TME (the host's default key), KeyIDs `1..=NUM_MKTME_KIDS` are shared MKTME KeyIDs the host may use,
//! and `NUM_MKTME_KIDS+1 ..= NUM_MKTME_KIDS+NUM_TDX_PRIV_KIDS` are private HKIDs, usable only by the TDX
//! module and TDs (`IA32_MKTME_KEYID_PARTITIONING`). The model uses MAX_PA = 46 and 6 KeyID bits, with 15
//! shared and 48 private KeyIDs, which is the "private KeyID range: [16, 64)" Linux prints.
//!
//! **Encryption.** AES-XTS-128 per KeyID, tweaked by the physical address. Where real MKTME puts the
//! data-unit boundary is not public; the model takes the 4 KiB page as the XTS data unit (IEEE 1619): the
//! tweak is the page's physical address (KeyID bits stripped) as a 16-byte little-endian value, and the
//! 16-byte block `j` of the page uses `E_K2(tweak)·α^j`. A line can still be en- or decrypted alone,
//! since its tweaks are computed from `j`. As in hardware: the same plaintext at the same address gives
//! the same ciphertext (deterministic), and ciphertext moved to another address decrypts to garbage.
//! Pages go through [`sim_core::xts`]: the `aes` crate's multi-block API on all 256 blocks at once, never
//! block by block, with each line's MAC checked (reads, before decryption) or computed (writes) by a
//! line hook while the page is in cache.
//! The result is standard XTS-AES-128, checked against OpenSSL's in `tests/memory_tme.rs`.
//!
//! **Integrity.** Cryptographic integrity (Ci) keeps, per 64-byte line, a 28-bit MAC over the
//! ciphertext, the address and the TD-owner bit, plus the TD-owner bit; logical integrity (Li) keeps
//! only the TD-owner bit. Hardware computes a truncated SHA-3-based MAC that cannot be reproduced; the
//! model uses a Wegman–Carter-style MAC instead: an NH universal hash (as UMAC, on 64-bit words) of the
//! 64-byte ciphertext line, XORed with a per-KeyID salt when the owner bit is set, mixed, truncated to
//! 28 bits and XORed with a pad taken from the secret, address-bound XTS tweak of the line's first block
//! (bits 127:96). It is keyed, address- and owner-bound, and 28 bits wide like the hardware's, but it is
//! not the hardware's function and makes no claim of its strength.
//! The granularity (one MAC per 64-byte line) is the hardware's.
//!
//! **Access semantics** (tdx.md §5.6, Intel TDX whitepaper): a TD write sets the line's TD-owner bit;
//! a write through a non-private KeyID clears it; a non-TD read of a TD-owned line returns zeros; a TD
//! read of a line whose owner bit is clear or whose MAC does not match is poisoned, and consuming it is a
//! machine check. Nothing here has freshness: a physical attacker who puts back an old
//! (ciphertext, MAC, owner bit) triple at the same address is not detected.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Block};
use rand_chacha::rand_core::RngCore;
use sim_core::rng::ChaCha20Rng;
use sim_core::rules::RuleSet;
use sim_core::xts::{self, Direction, LineHook, NoHook};

use super::rules;

/// Bytes in a page.
pub const PAGE_SIZE: usize = 4096;
/// Bytes in a cache line (the integrity granularity).
pub const LINE_SIZE: usize = 64;
/// Lines in a page.
pub const LINES_PER_PAGE: usize = PAGE_SIZE / LINE_SIZE;
/// AES blocks in a page.
pub const BLOCKS_PER_PAGE: usize = PAGE_SIZE / 16;
/// MAX_PA of the modelled platform (`CPUID.80000008H:EAX[7:0]`).
pub const MAX_PA_BITS: u32 = 46;
/// `IA32_TME_ACTIVATE.mk_tme_keyid_bits`.
pub const KEYID_BITS: u32 = 6;
/// First KeyID bit of a physical address (`hkid_start_bit`).
pub const HKID_SHIFT: u32 = MAX_PA_BITS - KEYID_BITS;
/// `IA32_MKTME_KEYID_PARTITIONING[31:0]`: shared MKTME KeyIDs 1..=15.
pub const NUM_MKTME_KIDS: u16 = 15;
/// `IA32_MKTME_KEYID_PARTITIONING[63:32]`: private HKIDs 16..=63.
pub const NUM_TDX_PRIV_KIDS: u16 = 48;
/// Number of KeyIDs.
pub const NUM_KEYIDS: usize = 1 << KEYID_BITS;
/// Mask of a 28-bit line MAC.
pub const MAC_MASK: u32 = 0x0FFF_FFFF;

/// Splits a physical address with KeyID bits into (address, KeyID).
pub fn split_pa(pa_with_keyid: u64) -> (u64, u16) {
    let pa = pa_with_keyid & ((1u64 << HKID_SHIFT) - 1);
    let keyid = ((pa_with_keyid >> HKID_SHIFT) & ((1 << KEYID_BITS) - 1)) as u16;
    (pa, keyid)
}

/// Puts a KeyID into the high bits of a physical address.
pub fn with_keyid(pa: u64, keyid: u16) -> u64 {
    (pa & ((1u64 << HKID_SHIFT) - 1)) | (u64::from(keyid) << HKID_SHIFT)
}

/// Which partition a KeyID is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyIdKind {
    /// KeyID 0: TME, the host's default key.
    Tme,
    /// A shared MKTME KeyID the host may program and use.
    Shared,
    /// A private HKID: SEAM mode and TDs only.
    Private,
}

/// The partition of `keyid`, or `None` past the last KeyID.
pub fn keyid_kind(keyid: u16) -> Option<KeyIdKind> {
    match keyid {
        0 => Some(KeyIdKind::Tme),
        k if k <= NUM_MKTME_KIDS => Some(KeyIdKind::Shared),
        k if k <= NUM_MKTME_KIDS + NUM_TDX_PRIV_KIDS => Some(KeyIdKind::Private),
        _ => None,
    }
}

/// The integrity mode the platform was configured with (MCHECK `tdx_without_integrity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum IntegrityMode {
    /// Ci: AES-XTS with integrity, a 28-bit MAC and the TD-owner bit per line.
    Cryptographic,
    /// Li: AES-XTS, the TD-owner bit per line, no MAC.
    Logical,
}

/// The keys of one KeyID: the XTS data and tweak keys and the MAC key (NH key and owner-bit salt).
#[derive(Clone)]
pub struct KeySlot {
    data: Aes128,
    tweak: Aes128,
    nh: [u64; 8],
    owner_salt: u64,
}

/// Mixes a folded NH value into the 28-bit MAC.
const MAC_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

impl KeySlot {
    /// A slot from explicit XTS keys (K1 data, K2 tweak) and MAC key material (the NH key and the
    /// salt that binds the TD-owner bit).
    pub fn new(k1: &[u8; 16], k2: &[u8; 16], nh: [u64; 8], owner_salt: u64) -> Self {
        Self {
            data: Aes128::new(k1.into()),
            tweak: Aes128::new(k2.into()),
            nh,
            owner_salt,
        }
    }

    /// A slot with keys drawn from `rng` (PCONFIG `SET_KEY_RANDOM`: the key is never visible).
    pub fn random(rng: &mut ChaCha20Rng) -> Self {
        let mut k = [[0u8; 16]; 2];
        for key in &mut k {
            rng.fill_bytes(key);
        }
        let mut nh = [0u64; 8];
        for w in &mut nh {
            *w = rng.next_u64();
        }
        Self::new(&k[0], &k[1], nh, rng.next_u64() | 1)
    }

    fn tweak0(&self, pa_page: u64) -> u128 {
        let mut b = Block::from(u128::from(pa_page).to_le_bytes());
        self.tweak.encrypt_block(&mut b);
        u128::from_le_bytes(b.into())
    }

    /// NH (as UMAC, RFC 4418 §5, here on 64-bit words with 128-bit products) of one 64-byte
    /// ciphertext line, folded to 64 bits.
    #[inline(always)]
    fn nh_line(&self, ct: &[u8]) -> u64 {
        let mut acc = 0u128;
        for (c, k) in ct.chunks_exact(16).zip(self.nh.chunks_exact(2)) {
            let mut x = [0u8; 8];
            let mut y = [0u8; 8];
            x.copy_from_slice(&c[..8]);
            y.copy_from_slice(&c[8..]);
            let a = u64::from_le_bytes(x).wrapping_add(k[0]);
            let b = u64::from_le_bytes(y).wrapping_add(k[1]);
            acc = acc.wrapping_add(u128::from(a) * u128::from(b));
        }
        (acc >> 64) as u64 ^ acc as u64
    }

    /// The 28-bit MAC of a ciphertext line: NH, salted by the owner bit, mixed, XOR a pad taken from
    /// bits 127:96 of the (secret, address-bound) tweak of the line's first block.
    #[inline(always)]
    fn line_mac(&self, ct: &[u8], owner: bool, first_tweak: u128) -> u32 {
        let f = (self.nh_line(ct) ^ if owner { self.owner_salt } else { 0 }).wrapping_mul(MAC_MIX);
        ((f >> 36) as u32 ^ (first_tweak >> 96) as u32) & MAC_MASK
    }

    /// The MAC of line `idx` of the page at `pa_page` (line-granular accesses).
    pub fn one_line_mac(&self, pa_page: u64, idx: usize, ct: &[u8], owner: bool) -> u32 {
        let t = xts::mul_alpha_pow(self.tweak0(pa_page), 4 * (idx % LINES_PER_PAGE));
        self.line_mac(ct, owner, t)
    }

    /// XTS-encrypts a whole page: `dst = E_K1(src ⊕ T) ⊕ T` on all 256 blocks.
    pub fn encrypt_page(&self, pa_page: u64, src: &[u8; PAGE_SIZE], dst: &mut [u8; PAGE_SIZE]) {
        self.seal_page(pa_page, src, dst, false, None);
    }

    /// XTS-decrypts a whole page.
    pub fn decrypt_page(&self, pa_page: u64, src: &[u8; PAGE_SIZE], dst: &mut [u8; PAGE_SIZE]) {
        let _ = self.open_page(pa_page, src, dst, None);
    }

    /// Encrypts a page and (Ci) computes its 64 line MACs: `dst = E_K1(src ⊕ T) ⊕ T` through
    /// [`sim_core::xts`] (one multi-block cipher call on all 256 blocks), each ciphertext line MACed
    /// by the pass's line hook.
    pub fn seal_page(
        &self,
        pa_page: u64,
        src: &[u8; PAGE_SIZE],
        dst: &mut [u8; PAGE_SIZE],
        owner: bool,
        macs: Option<&mut [u32; LINES_PER_PAGE]>,
    ) {
        let t0 = self.tweak0(pa_page);
        let _ = match macs {
            Some(macs) => xts::xts(
                &self.data,
                Direction::Encrypt,
                t0,
                0,
                src,
                dst,
                &mut Seal {
                    slot: self,
                    owner,
                    macs,
                },
            ),
            None => xts::xts(&self.data, Direction::Encrypt, t0, 0, src, dst, &mut NoHook),
        };
    }

    /// Checks (Ci: `expect` holds the stored MACs of a TD-owned page) and decrypts a page; every
    /// line's MAC is checked before anything is decrypted. `Err(line)` names the first line whose MAC
    /// does not match; `dst` is then zeroed.
    pub fn open_page(
        &self,
        pa_page: u64,
        src: &[u8; PAGE_SIZE],
        dst: &mut [u8; PAGE_SIZE],
        expect: Option<&[u32; LINES_PER_PAGE]>,
    ) -> Result<(), usize> {
        let t0 = self.tweak0(pa_page);
        let r = match expect {
            Some(expect) => xts::xts(
                &self.data,
                Direction::Decrypt,
                t0,
                0,
                src,
                dst,
                &mut Open { slot: self, expect },
            ),
            None => xts::xts(&self.data, Direction::Decrypt, t0, 0, src, dst, &mut NoHook),
        };
        r.map_err(|block| {
            dst.fill(0);
            block / xts::BLOCKS_PER_LINE
        })
    }

    fn xts_line(&self, pa_page: u64, idx: usize, src: &[u8], dst: &mut [u8; LINE_SIZE], enc: bool) {
        let dir = if enc {
            Direction::Encrypt
        } else {
            Direction::Decrypt
        };
        let first = xts::BLOCKS_PER_LINE * (idx % LINES_PER_PAGE);
        let t0 = self.tweak0(pa_page);
        let _ = xts::xts(&self.data, dir, t0, first, src, dst, &mut NoHook);
    }
}

/// Seal's line hook: the MAC of each ciphertext line as it is written.
struct Seal<'a> {
    slot: &'a KeySlot,
    owner: bool,
    macs: &'a mut [u32; LINES_PER_PAGE],
}

impl LineHook for Seal<'_> {
    #[inline(always)]
    fn after(&mut self, block: usize, dst: &[u8], tweak: u128) {
        let line = (block / xts::BLOCKS_PER_LINE) % LINES_PER_PAGE;
        self.macs[line] = self.slot.line_mac(dst, self.owner, tweak);
    }
}

/// Open's line hook: each ciphertext line's MAC is checked before the line is decrypted.
struct Open<'a> {
    slot: &'a KeySlot,
    expect: &'a [u32; LINES_PER_PAGE],
}

impl LineHook for Open<'_> {
    #[inline(always)]
    fn before(&mut self, block: usize, src: &[u8], tweak: u128) -> bool {
        let line = (block / xts::BLOCKS_PER_LINE) % LINES_PER_PAGE;
        self.slot.line_mac(src, true, tweak) == self.expect[line]
    }
}

/// The frame `pfn`, materialised (zeros) on first touch.
fn frame_in(frames: &mut [Option<Frame>], pfn: u64) -> Option<&mut Frame> {
    let f = frames.get_mut(usize::try_from(pfn).ok()?)?;
    Some(f.get_or_insert_with(Frame::default))
}

/// Per-line metadata kept beside DRAM (in the ECC bits on real parts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LineMeta {
    /// The 28-bit MAC (Ci only; 0 under Li).
    pub mac: u32,
    /// The TD-owner bit.
    pub td_owner: bool,
}

/// One 4 KiB DRAM frame: ciphertext and line metadata, what a physical attacker sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Ciphertext bytes.
    pub data: Box<[u8; PAGE_SIZE]>,
    /// Line metadata.
    pub meta: [LineMeta; LINES_PER_PAGE],
}

impl Default for Frame {
    fn default() -> Self {
        Self {
            data: Box::new([0u8; PAGE_SIZE]),
            meta: [LineMeta::default(); LINES_PER_PAGE],
        }
    }
}

/// A TD read consumed a poisoned line: the machine check of tdx.md §5.6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Poison {
    /// Physical address of the poisoned line.
    pub pa: u64,
    /// Why the line is poisoned.
    pub cause: PoisonCause,
}

/// Why a line is poisoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoisonCause {
    /// The TD-owner bit is clear (written through a non-private KeyID).
    OwnerBit,
    /// The Ci MAC does not match.
    Mac,
}

/// A host (non-SEAM) access the hardware refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAccessError {
    /// The address uses a private HKID, usable only in SEAM mode.
    PrivateKeyId(u16),
    /// The KeyID is past the last one or has no key.
    BadKeyId(u16),
    /// The address is outside physical memory.
    OutOfRange(u64),
}

impl std::fmt::Display for HostAccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PrivateKeyId(k) => write!(f, "#GP(private KeyID {k} outside SEAM)"),
            Self::BadKeyId(k) => write!(f, "#GP(KeyID {k} not configured)"),
            Self::OutOfRange(a) => write!(f, "#MC(no memory at 0x{a:x})"),
        }
    }
}

/// Physical memory behind the TME-MK engine.
pub struct Memory {
    mode: IntegrityMode,
    keys: Vec<Option<KeySlot>>,
    frames: Vec<Option<Frame>>,
    rng: ChaCha20Rng,
}

impl Memory {
    /// `num_frames` frames of 4 KiB, KeyID 0 and the shared KeyIDs keyed from `seed`.
    pub fn new(num_frames: usize, mode: IntegrityMode, seed: u64) -> Self {
        let mut rng = sim_core::rng::seeded("tdx-mktme", seed);
        let mut keys: Vec<Option<KeySlot>> = vec![None; NUM_KEYIDS];
        for slot in keys.iter_mut().take(usize::from(NUM_MKTME_KIDS) + 1) {
            *slot = Some(KeySlot::random(&mut rng));
        }
        Self {
            mode,
            keys,
            frames: vec![None; num_frames],
            rng,
        }
    }

    /// The integrity mode.
    pub fn mode(&self) -> IntegrityMode {
        self.mode
    }

    /// Number of 4 KiB frames.
    pub fn num_frames(&self) -> usize {
        self.frames.len()
    }

    /// PCONFIG `SET_KEY_RANDOM` for a private HKID (TDH.MNG.KEY.CONFIG).
    pub fn program_random_key(&mut self, keyid: u16) {
        let slot = KeySlot::random(&mut self.rng);
        if let Some(k) = self.keys.get_mut(usize::from(keyid)) {
            *k = Some(slot);
        }
    }

    /// Programs explicit keys (tests comparing with an independent XTS implementation).
    pub fn program_key(&mut self, keyid: u16, slot: KeySlot) {
        if let Some(k) = self.keys.get_mut(usize::from(keyid)) {
            *k = Some(slot);
        }
    }

    /// Removes a KeyID's key (TDH.MNG.KEY.FREEID).
    pub fn clear_key(&mut self, keyid: u16) {
        if let Some(k) = self.keys.get_mut(usize::from(keyid)) {
            *k = None;
        }
    }

    /// Whether `keyid` has a key.
    pub fn has_key(&self, keyid: u16) -> bool {
        self.keys
            .get(usize::from(keyid))
            .is_some_and(Option::is_some)
    }

    fn frame_mut(&mut self, pfn: u64) -> Option<&mut Frame> {
        frame_in(&mut self.frames, pfn)
    }

    fn in_range(&self, pa: u64) -> bool {
        usize::try_from(pa / PAGE_SIZE as u64).is_ok_and(|p| p < self.frames.len())
    }

    /// A TD (or the module on a TD's behalf) writes a whole page through a private HKID: encrypt, set
    /// the owner bit, compute the MACs (Ci).
    pub fn td_write_page(&mut self, pa: u64, keyid: u16, plain: &[u8; PAGE_SIZE]) -> bool {
        self.write_page_as(pa, keyid, plain, true)
    }

    fn write_page_as(&mut self, pa: u64, keyid: u16, plain: &[u8; PAGE_SIZE], owner: bool) -> bool {
        let pa_page = pa & !(PAGE_SIZE as u64 - 1);
        let mode = self.mode;
        let Some(Some(slot)) = self.keys.get(usize::from(keyid)) else {
            return false;
        };
        let Some(frame) = frame_in(&mut self.frames, pa_page / PAGE_SIZE as u64) else {
            return false;
        };
        let mut macs = [0u32; LINES_PER_PAGE];
        let ci = mode == IntegrityMode::Cryptographic;
        slot.seal_page(
            pa_page,
            plain,
            &mut frame.data,
            owner,
            ci.then_some(&mut macs),
        );
        for (m, mac) in frame.meta.iter_mut().zip(macs) {
            *m = LineMeta {
                mac,
                td_owner: owner,
            };
        }
        true
    }

    /// A TD reads a whole page through its private HKID. Every line is checked (owner bit, then the
    /// Ci MAC) before it is consumed; the first poisoned line is a machine check.
    pub fn td_read_page(
        &mut self,
        pa: u64,
        keyid: u16,
        out: &mut [u8; PAGE_SIZE],
        rules: &RuleSet,
    ) -> Result<(), Poison> {
        let pa_page = pa & !(PAGE_SIZE as u64 - 1);
        let mode = self.mode;
        let fail = Poison {
            pa: pa_page,
            cause: PoisonCause::Mac,
        };
        let Some(Some(slot)) = self.keys.get(usize::from(keyid)) else {
            return Err(fail);
        };
        let Some(frame) = frame_in(&mut self.frames, pa_page / PAGE_SIZE as u64) else {
            return Err(fail);
        };
        if rules.on(rules::TME_OWNER_BIT_CHECK) {
            if let Some(i) = frame.meta.iter().position(|m| !m.td_owner) {
                return Err(Poison {
                    pa: pa_page + (i * LINE_SIZE) as u64,
                    cause: PoisonCause::OwnerBit,
                });
            }
        }
        let ci = mode == IntegrityMode::Cryptographic && rules.on(rules::TME_CI_MAC);
        let mut expect = [0u32; LINES_PER_PAGE];
        if ci {
            for (e, m) in expect.iter_mut().zip(frame.meta.iter()) {
                *e = m.mac;
            }
        }
        if let Err(i) = slot.open_page(pa_page, &frame.data, out, ci.then_some(&expect)) {
            return Err(Poison {
                pa: pa_page + (i * LINE_SIZE) as u64,
                cause: PoisonCause::Mac,
            });
        }
        Ok(())
    }

    /// A TD writes one whole 64-byte line through its HKID: encrypt it, set its owner bit and MAC.
    pub fn td_write_line(&mut self, pa: u64, keyid: u16, data: &[u8; LINE_SIZE]) -> bool {
        let line_pa = pa & !(LINE_SIZE as u64 - 1);
        let pa_page = line_pa & !(PAGE_SIZE as u64 - 1);
        let idx = ((line_pa - pa_page) / LINE_SIZE as u64) as usize;
        let mode = self.mode;
        let Some(Some(slot)) = self.keys.get(usize::from(keyid)) else {
            return false;
        };
        let Some(frame) = frame_in(&mut self.frames, pa_page / PAGE_SIZE as u64) else {
            return false;
        };
        let mut ct = [0u8; LINE_SIZE];
        slot.xts_line(pa_page, idx, data, &mut ct, true);
        let mac = match mode {
            IntegrityMode::Cryptographic => slot.one_line_mac(pa_page, idx, &ct, true),
            IntegrityMode::Logical => 0,
        };
        frame.data[idx * LINE_SIZE..(idx + 1) * LINE_SIZE].copy_from_slice(&ct);
        frame.meta[idx] = LineMeta {
            mac,
            td_owner: true,
        };
        true
    }

    /// A TD reads one 64-byte line through its HKID; the line is checked (owner bit, then the Ci MAC)
    /// before it is consumed. With `check` false the checks are skipped (what a TD would see if the
    /// machine check were ignored).
    pub fn td_read_line(
        &mut self,
        pa: u64,
        keyid: u16,
        out: &mut [u8; LINE_SIZE],
        rules: &RuleSet,
        check: bool,
    ) -> Result<(), Poison> {
        let line_pa = pa & !(LINE_SIZE as u64 - 1);
        let pa_page = line_pa & !(PAGE_SIZE as u64 - 1);
        let idx = ((line_pa - pa_page) / LINE_SIZE as u64) as usize;
        let mode = self.mode;
        let fail = Poison {
            pa: line_pa,
            cause: PoisonCause::Mac,
        };
        let Some(Some(slot)) = self.keys.get(usize::from(keyid)) else {
            return Err(fail);
        };
        let Some(frame) = frame_in(&mut self.frames, pa_page / PAGE_SIZE as u64) else {
            return Err(fail);
        };
        let ct = &frame.data[idx * LINE_SIZE..(idx + 1) * LINE_SIZE];
        let meta = frame.meta[idx];
        if check && rules.on(rules::TME_OWNER_BIT_CHECK) && !meta.td_owner {
            return Err(Poison {
                pa: line_pa,
                cause: PoisonCause::OwnerBit,
            });
        }
        if check
            && mode == IntegrityMode::Cryptographic
            && rules.on(rules::TME_CI_MAC)
            && slot.one_line_mac(pa_page, idx, ct, true) != meta.mac
        {
            return Err(fail);
        }
        slot.xts_line(pa_page, idx, ct, out, false);
        Ok(())
    }

    fn host_key(&self, keyid: u16, rules: &RuleSet) -> Result<KeySlot, HostAccessError> {
        match keyid_kind(keyid) {
            None => return Err(HostAccessError::BadKeyId(keyid)),
            Some(KeyIdKind::Private) if rules.on(rules::KEYID_PRIVATE_SEAM_ONLY) => {
                return Err(HostAccessError::PrivateKeyId(keyid))
            }
            _ => {}
        }
        match self.keys.get(usize::from(keyid)) {
            Some(Some(k)) => Ok(k.clone()),
            _ => Err(HostAccessError::BadKeyId(keyid)),
        }
    }

    /// Software outside SEAM writes `data` at `pa` through `keyid`, line by line. Each touched line is
    /// encrypted under `keyid`, its TD-owner bit cleared and its MAC computed under `keyid` (so a TD
    /// reading it later is poisoned). The untouched part of a partially written line reads as zeros.
    /// (With rule `TDX-KEYID-PRIVATE-SEAM-ONLY` off a private KeyID is accepted and the write is a TD
    /// write: the hole the rule closes.)
    pub fn host_write(
        &mut self,
        pa: u64,
        keyid: u16,
        data: &[u8],
        rules: &RuleSet,
    ) -> Result<(), HostAccessError> {
        let slot = self.host_key(keyid, rules)?;
        let owner = keyid_kind(keyid) == Some(KeyIdKind::Private);
        let end = pa.saturating_add(data.len() as u64);
        if !self.in_range(pa) || (end > pa && !self.in_range(end - 1)) {
            return Err(HostAccessError::OutOfRange(pa));
        }
        let mode = self.mode;
        let mut cur = pa;
        let mut src = data;
        while !src.is_empty() {
            let line_pa = cur & !(LINE_SIZE as u64 - 1);
            let off = (cur - line_pa) as usize;
            let n = (LINE_SIZE - off).min(src.len());
            let mut plain = [0u8; LINE_SIZE];
            plain[off..off + n].copy_from_slice(&src[..n]);
            let pa_page = line_pa & !(PAGE_SIZE as u64 - 1);
            let idx = ((line_pa - pa_page) / LINE_SIZE as u64) as usize;
            let mut ct = [0u8; LINE_SIZE];
            slot.xts_line(pa_page, idx, &plain, &mut ct, true);
            let mac = match mode {
                IntegrityMode::Cryptographic => slot.one_line_mac(pa_page, idx, &ct, owner),
                IntegrityMode::Logical => 0,
            };
            if let Some(frame) = self.frame_mut(pa_page / PAGE_SIZE as u64) {
                frame.data[idx * LINE_SIZE..(idx + 1) * LINE_SIZE].copy_from_slice(&ct);
                frame.meta[idx] = LineMeta {
                    mac,
                    td_owner: owner,
                };
            }
            cur += n as u64;
            src = &src[n..];
        }
        Ok(())
    }

    /// Software outside SEAM reads `out.len()` bytes at `pa` through `keyid`. TD-owned lines read as
    /// zeros (rule `TDX-TME-OWNER-READ-ZERO`); other lines are decrypted under `keyid`.
    pub fn host_read(
        &mut self,
        pa: u64,
        keyid: u16,
        out: &mut [u8],
        rules: &RuleSet,
    ) -> Result<(), HostAccessError> {
        let slot = self.host_key(keyid, rules)?;
        let end = pa.saturating_add(out.len() as u64);
        if !self.in_range(pa) || (end > pa && !self.in_range(end - 1)) {
            return Err(HostAccessError::OutOfRange(pa));
        }
        let private = keyid_kind(keyid) == Some(KeyIdKind::Private);
        let zero_owned = rules.on(rules::TME_OWNER_READ_ZERO) && !private;
        let mut cur = pa;
        let mut done = 0;
        while done < out.len() {
            let line_pa = cur & !(LINE_SIZE as u64 - 1);
            let off = (cur - line_pa) as usize;
            let n = (LINE_SIZE - off).min(out.len() - done);
            let pa_page = line_pa & !(PAGE_SIZE as u64 - 1);
            let idx = ((line_pa - pa_page) / LINE_SIZE as u64) as usize;
            let mut plain = [0u8; LINE_SIZE];
            if let Some(frame) = self.frame_mut(pa_page / PAGE_SIZE as u64) {
                if !(zero_owned && frame.meta[idx].td_owner) {
                    let ct = &frame.data[idx * LINE_SIZE..(idx + 1) * LINE_SIZE];
                    slot.xts_line(pa_page, idx, ct, &mut plain, false);
                }
            }
            out[done..done + n].copy_from_slice(&plain[off..off + n]);
            cur += n as u64;
            done += n;
        }
        Ok(())
    }

    /// What a physical attacker (bus interposer, DIMM reader) sees of a frame: ciphertext and
    /// metadata. `None` outside memory.
    pub fn dram_read(&self, pfn: u64) -> Option<Frame> {
        let f = self.frames.get(usize::try_from(pfn).ok()?)?;
        Some(f.clone().unwrap_or_default())
    }

    /// A physical attacker writes raw DRAM contents (ciphertext and metadata) of a frame.
    pub fn dram_write(&mut self, pfn: u64, frame: Frame) -> bool {
        match self.frame_mut(pfn) {
            Some(f) => {
                *f = frame;
                true
            }
            None => false,
        }
    }

    /// A physical attacker flips one ciphertext bit (rowhammer, bus fault injection).
    pub fn dram_flip(&mut self, pa: u64, bit: u8) -> bool {
        let pa_page = pa & !(PAGE_SIZE as u64 - 1);
        let off = (pa - pa_page) as usize;
        match self.frame_mut(pa_page / PAGE_SIZE as u64) {
            Some(f) => {
                f.data[off] ^= 1 << (bit % 8);
                true
            }
            None => false,
        }
    }

    /// The TD-owner bit of the line at `pa`.
    pub fn owner_bit(&self, pa: u64) -> bool {
        let pfn = pa / PAGE_SIZE as u64;
        let idx = ((pa % PAGE_SIZE as u64) / LINE_SIZE as u64) as usize;
        usize::try_from(pfn)
            .ok()
            .and_then(|p| self.frames.get(p))
            .and_then(|f| f.as_ref())
            .is_some_and(|f| f.meta[idx].td_owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyid_partition_matches_linux_private_range() {
        // Linux prints "private KeyID range: [16, 64)" for this partitioning.
        assert_eq!(keyid_kind(0), Some(KeyIdKind::Tme));
        assert_eq!(keyid_kind(15), Some(KeyIdKind::Shared));
        assert_eq!(keyid_kind(16), Some(KeyIdKind::Private));
        assert_eq!(keyid_kind(63), Some(KeyIdKind::Private));
        assert_eq!(keyid_kind(64), None);
        assert_eq!(split_pa(with_keyid(0x1234_5000, 17)), (0x1234_5000, 17));
    }
}
