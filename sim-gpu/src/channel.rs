//! The encrypted CPU↔GPU channel (gpu.md §6): the SPDM 1.1 session key schedule to the export master
//! secret, per-channel AES-256-GCM keys by HKDF-SHA256-Expand, IV = counter XOR mask, and staging
//! ("bounce") buffers in host memory carrying 4 KiB pages with 16-byte tags.
//!
//! Model choices, where the sources are silent (gpu.md §9 "open"):
//! - The SPDM transcript hashes TH1/TH2 are SHA-384 over a compact transcript (the two ECDHE public
//!   keys and the message codes), not the full VCA/KEY_EXCHANGE/FINISH message bytes.
//! - IV masks come from GSP on hardware; here they are HKDF-SHA256-Expand(EMK, name ‖ " iv mask", 12).
//! - The receiver decrypts each page with the IV it expects (its own counter), not with an IV the host
//!   can edit, so a replayed or reordered page fails its tag; the number of pages of a transfer comes
//!   from the (authenticated) copy request, so a truncated transfer is caught.
//! - Any failure puts the channel into the fatal state, as UVM's `uvm_global_set_fatal_error` does;
//!   every later operation is refused.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384};

/// Size of one page of a staging buffer.
pub const PAGE: usize = 4096;
/// GCM tag size.
pub const TAG: usize = 16;

/// SPDM 1.1 `BinConcat(Length, Version, Label, Context)` (DSP0274 1.1 §12.5 key schedule):
/// `Length` (u16 LE) ‖ "spdm1.1 " ‖ label ‖ context.
fn bin_concat(len: u16, label: &str, context: &[u8]) -> Vec<u8> {
    let mut v = len.to_le_bytes().to_vec();
    v.extend_from_slice(b"spdm1.1 ");
    v.extend_from_slice(label.as_bytes());
    v.extend_from_slice(context);
    v
}

fn hmac384(key: &[u8], data: &[u8]) -> [u8; 48] {
    // HMAC accepts keys of any length, so the error arm is never taken.
    let Ok(mut m) = <Hmac<Sha384> as Mac>::new_from_slice(key) else {
        return [0u8; 48];
    };
    m.update(data);
    m.finalize().into_bytes().into()
}

/// HKDF-Expand with SHA-384 for outputs of at most one block (all SPDM secrets are 48 bytes).
fn expand384(prk: &[u8], info: &[u8]) -> [u8; 48] {
    let mut d = info.to_vec();
    d.push(1);
    hmac384(prk, &d)
}

/// The secrets of one SPDM 1.1 session (ECDHE P-384, SHA-384, HMAC key schedule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSecrets {
    /// handshake_secret = HMAC-SHA384(salt_0 = 0^48, DHE secret).
    pub handshake_secret: [u8; 48],
    /// request_handshake_secret.
    pub request_handshake_secret: [u8; 48],
    /// response_handshake_secret.
    pub response_handshake_secret: [u8; 48],
    /// master_secret = HMAC-SHA384(salt_1, 0^48).
    pub master_secret: [u8; 48],
    /// request_data_secret.
    pub request_data_secret: [u8; 48],
    /// response_data_secret.
    pub response_data_secret: [u8; 48],
    /// export_master_secret.
    pub export_master_secret: [u8; 48],
}

/// The SPDM 1.1 key schedule from the DHE shared secret and the transcript hashes TH1, TH2
/// (DSP0274 1.1 §12.5–12.6).
pub fn key_schedule(dhe: &[u8], th1: &[u8; 48], th2: &[u8; 48]) -> SessionSecrets {
    let hs = hmac384(&[0u8; 48], dhe);
    let req_hs = expand384(&hs, &bin_concat(48, "req hs data", th1));
    let rsp_hs = expand384(&hs, &bin_concat(48, "rsp hs data", th1));
    let salt1 = expand384(&hs, &bin_concat(48, "derived", &[]));
    let ms = hmac384(&salt1, &[0u8; 48]);
    SessionSecrets {
        handshake_secret: hs,
        request_handshake_secret: req_hs,
        response_handshake_secret: rsp_hs,
        master_secret: ms,
        request_data_secret: expand384(&ms, &bin_concat(48, "req app data", th2)),
        response_data_secret: expand384(&ms, &bin_concat(48, "rsp app data", th2)),
        export_master_secret: expand384(&ms, &bin_concat(48, "exp master", th2)),
    }
}

/// Runs a simulated SPDM 1.1 session between the CPU driver and GSP (ECDHE P-384 with keys from
/// `seed`) and returns its secrets.
pub fn establish_session(seed: u64) -> SessionSecrets {
    use p384::ecdh::EphemeralSecret;
    let req = EphemeralSecret::random(&mut sim_core::rng::seeded("gpu/spdm/requester-dhe", seed));
    let rsp = EphemeralSecret::random(&mut sim_core::rng::seeded("gpu/spdm/responder-dhe", seed));
    let req_pub = p384::EncodedPoint::from(req.public_key());
    let rsp_pub = p384::EncodedPoint::from(rsp.public_key());
    let shared = req.diffie_hellman(&rsp.public_key());
    let mut t = Sha384::new();
    t.update([0x11, 0xE4]); // KEY_EXCHANGE
    t.update(req_pub.as_bytes());
    t.update([0x11, 0x64]); // KEY_EXCHANGE_RSP
    t.update(rsp_pub.as_bytes());
    let th1: [u8; 48] = t.clone().finalize().into();
    t.update([0x11, 0xE5, 0x11, 0x65]); // FINISH, FINISH_RSP
    let th2: [u8; 48] = t.finalize().into();
    key_schedule(&shared.raw_secret_bytes()[..], &th1, &th2)
}

/// The export master key: the first 32 bytes of the export master secret (`CC_EXPORT_MASTER_KEY_SIZE_BYTES`).
pub fn export_master_key(s: &SessionSecrets) -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(&s.export_master_secret[..32]);
    k
}

/// A channel key: HKDF-SHA256-Expand(PRK = EMK, info = key name, L = 32) (gpu.md §6.2).
pub fn channel_key(emk: &[u8; 32], name: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(h) = Hkdf::<Sha256>::from_prk(emk) {
        let _ = h.expand(name.as_bytes(), &mut out);
    }
    out
}

/// Key rotation: `k' = HKDF-SHA256-Expand(SHA256(k), name, 32)` (`confComputeKeyStoreUpdateKey_GH100`).
pub fn rotate_key(key: &[u8; 32], name: &str) -> [u8; 32] {
    channel_key(&Sha256::digest(key).into(), name)
}

fn iv_mask(emk: &[u8; 32], name: &str) -> [u8; 12] {
    let mut out = [0u8; 12];
    if let Ok(h) = Hkdf::<Sha256>::from_prk(emk) {
        let _ = h.expand(format!("{name} iv mask").as_bytes(), &mut out);
    }
    out
}

/// Why a channel operation failed. Every one of them leaves the channel fatal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// A page's tag did not verify (tampered, replayed or reordered data): `NV_ERR_INVALID_DATA`.
    #[error("page {page}: authentication tag mismatch (NV_ERR_INVALID_DATA)")]
    TagMismatch {
        /// Page index within the transfer.
        page: usize,
    },
    /// The staging buffer holds fewer pages or tags than the copy request says.
    #[error("transfer truncated: {got} pages staged, {expected} requested")]
    Truncated {
        /// Pages present.
        got: usize,
        /// Pages requested.
        expected: usize,
    },
    /// The 32-bit IV counter would wrap ("IV overflow detected").
    #[error("IV overflow detected")]
    IvOverflow,
    /// The channel is in the fatal state (a previous failure); nothing more is done.
    #[error("channel is in the fatal state (uvm_global_set_fatal_error)")]
    Fatal,
}

/// One direction's AES-256-GCM state: key, IV mask, 32-bit message counter (pre-incremented).
#[derive(Clone)]
pub struct CryptoStream {
    cipher: Aes256Gcm,
    mask: [u8; 12],
    counter: u32,
}

impl std::fmt::Debug for CryptoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CryptoStream {{ counter: {} }}", self.counter)
    }
}

impl CryptoStream {
    /// A stream for key `key` and IV mask `mask`, counter 0.
    pub fn new(key: &[u8; 32], mask: [u8; 12]) -> Self {
        CryptoStream {
            cipher: Aes256Gcm::new(key.into()),
            mask,
            counter: 0,
        }
    }

    /// The next IV: the counter is incremented first, then written LE into bytes 0..4 and XORed
    /// with the mask (`CSL_MSG_CTR_32`, `ccsl.c`).
    pub fn next_iv(&mut self) -> Result<[u8; 12], ChannelError> {
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(ChannelError::IvOverflow)?;
        let mut iv = self.mask;
        for (b, c) in iv.iter_mut().zip(self.counter.to_le_bytes()) {
            *b ^= c;
        }
        Ok(iv)
    }

    /// Encrypts one page in place; returns (IV, tag).
    pub fn seal(&mut self, page: &mut [u8]) -> Result<([u8; 12], [u8; 16]), ChannelError> {
        let iv = self.next_iv()?;
        let tag = self
            .cipher
            .encrypt_in_place_detached(&Nonce::from(iv), &[], page)
            .map_err(|_| ChannelError::TagMismatch { page: 0 })?;
        Ok((iv, tag.into()))
    }

    /// Decrypts one page in place with the next expected IV.
    pub fn open(
        &mut self,
        page: &mut [u8],
        tag: &[u8; 16],
        index: usize,
    ) -> Result<(), ChannelError> {
        let iv = self.next_iv()?;
        self.cipher
            .decrypt_in_place_detached(&Nonce::from(iv), &[], page, &Tag::from(*tag))
            .map_err(|_| ChannelError::TagMismatch { page: index })
    }
}

/// A staging buffer in unprotected host memory: ciphertext pages, one tag and one IV per page. The
/// host can read and write all of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StagingBuffer {
    /// Ciphertext, one `PAGE`-byte page each.
    pub pages: Vec<Vec<u8>>,
    /// Tags, one per page.
    pub tags: Vec<[u8; 16]>,
    /// IVs used, one per page (informational; receivers use their own counter).
    pub ivs: Vec<[u8; 12]>,
}

/// A copy-engine channel (`LceNN_h2d_user` / `LceNN_d2h_user` keys) between the CPU and the GPU.
#[derive(Debug)]
pub struct Channel {
    h2d_tx: CryptoStream,
    h2d_rx: CryptoStream,
    d2h_tx: CryptoStream,
    d2h_rx: CryptoStream,
    fatal: bool,
}

impl Channel {
    /// The channel of copy engine `lce` for a session from `seed`: both ends derive the keys from the
    /// export master key.
    pub fn new(seed: u64, lce: u8) -> Self {
        let emk = export_master_key(&establish_session(seed));
        let h2d = format!("Lce{lce:02}_h2d_user");
        let d2h = format!("Lce{lce:02}_d2h_user");
        let kh = channel_key(&emk, &h2d);
        let kd = channel_key(&emk, &d2h);
        let mh = iv_mask(&emk, &h2d);
        let md = iv_mask(&emk, &d2h);
        Channel {
            h2d_tx: CryptoStream::new(&kh, mh),
            h2d_rx: CryptoStream::new(&kh, mh),
            d2h_tx: CryptoStream::new(&kd, md),
            d2h_rx: CryptoStream::new(&kd, md),
            fatal: false,
        }
    }

    /// Whether the channel is in the fatal state.
    pub fn is_fatal(&self) -> bool {
        self.fatal
    }

    fn guard(&self) -> Result<(), ChannelError> {
        if self.fatal {
            Err(ChannelError::Fatal)
        } else {
            Ok(())
        }
    }

    fn fail<T>(&mut self, e: ChannelError) -> Result<T, ChannelError> {
        self.fatal = true;
        Err(e)
    }

    fn stage(stream: &mut CryptoStream, data: &[u8]) -> Result<StagingBuffer, ChannelError> {
        let mut sb = StagingBuffer::default();
        for chunk in data.chunks(PAGE) {
            let mut page = chunk.to_vec();
            page.resize(PAGE, 0);
            let (iv, tag) = stream.seal(&mut page)?;
            sb.pages.push(page);
            sb.tags.push(tag);
            sb.ivs.push(iv);
        }
        Ok(sb)
    }

    fn unstage(
        stream: &mut CryptoStream,
        sb: &StagingBuffer,
        expected_pages: usize,
    ) -> Result<Vec<u8>, ChannelError> {
        if sb.pages.len() < expected_pages || sb.tags.len() < expected_pages {
            return Err(ChannelError::Truncated {
                got: sb.pages.len().min(sb.tags.len()),
                expected: expected_pages,
            });
        }
        let mut out = Vec::with_capacity(expected_pages * PAGE);
        for (i, (p, t)) in sb
            .pages
            .iter()
            .zip(&sb.tags)
            .take(expected_pages)
            .enumerate()
        {
            if p.len() != PAGE {
                return Err(ChannelError::TagMismatch { page: i });
            }
            let mut page = p.clone();
            stream.open(&mut page, t, i)?;
            out.extend_from_slice(&page);
        }
        Ok(out)
    }

    /// CPU side of a host→device copy: encrypts `data` (zero-padded to whole pages) into a staging
    /// buffer with the H2D key. Returns the buffer and the page count of the copy request.
    pub fn cpu_encrypt(&mut self, data: &[u8]) -> Result<(StagingBuffer, usize), ChannelError> {
        self.guard()?;
        match Self::stage(&mut self.h2d_tx, data) {
            Ok(sb) => {
                let n = sb.pages.len();
                Ok((sb, n))
            }
            Err(e) => self.fail(e),
        }
    }

    /// GPU copy-engine side of a host→device copy: decrypts `pages` pages into protected memory.
    pub fn gpu_decrypt(
        &mut self,
        sb: &StagingBuffer,
        pages: usize,
    ) -> Result<Vec<u8>, ChannelError> {
        self.guard()?;
        match Self::unstage(&mut self.h2d_rx, sb, pages) {
            Ok(v) => Ok(v),
            Err(e) => self.fail(e),
        }
    }

    /// GPU copy-engine side of a device→host copy: encrypts into a staging buffer with the D2H key.
    pub fn gpu_encrypt(&mut self, data: &[u8]) -> Result<(StagingBuffer, usize), ChannelError> {
        self.guard()?;
        match Self::stage(&mut self.d2h_tx, data) {
            Ok(sb) => {
                let n = sb.pages.len();
                Ok((sb, n))
            }
            Err(e) => self.fail(e),
        }
    }

    /// CPU side of a device→host copy: decrypts; a tag failure is fatal, as in UVM.
    pub fn cpu_decrypt(
        &mut self,
        sb: &StagingBuffer,
        pages: usize,
    ) -> Result<Vec<u8>, ChannelError> {
        self.guard()?;
        match Self::unstage(&mut self.d2h_rx, sb, pages) {
            Ok(v) => Ok(v),
            Err(e) => self.fail(e),
        }
    }
}
