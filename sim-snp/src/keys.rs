//! Key derivation as AMD's firmware does it (snp.md §2.5; AMD-ASPFW `sev_plat.c`, `nist_kdf.c`).
//!
//! **Hash sticks.** The chip's boot ROM holds a 48-byte seed, the base of the first TCB component. For
//! component *i* (one per TCB_VERSION byte, in byte order) with SVN *v*:
//! `d = SHA-384^(255−v)(base_i)`; `base_{i+1} = SHA-384(0x00×8 ‖ d)`; `stick_i = SHA-384(d)`. The stick of
//! the last component (MICROCODE) is `vcek_hash`. Whoever holds `d` at SVN *v* can hash forward to any
//! lower SVN, never back to a higher one: the key of a lower TCB is derivable, a higher one is not.
//! For Milan and Genoa the byte order is AMD's own (BL, TEE, 4 reserved, SNP, MICROCODE). AMD has not
//! published Turin's firmware; this model applies the same construction to Turin's byte order (FMC, BL,
//! TEE, SNP, 3 reserved, MICROCODE), which keeps the same monotonicity.
//!
//! **Key.** `rdata[56] = KDF(vcek_hash, "sev-versioned-chip-endorsement-key")` (SP 800-108 counter mode,
//! HMAC-SHA-256, PRF input `i ‖ label ‖ 0x00 ‖ context ‖ L` with u32 little-endian `i` and `L` in bits),
//! then `d = (c mod (n−1)) + 1` with `c` the 56 bytes read little-endian (FIPS 186-4 B.4.1 extra random
//! bits). The VLEK uses the label `"sev-versioned-loaded-attestation-key"` on its own seed.

use hmac::{Hmac, Mac};
use p384::elliptic_curve::bigint::{Encoding, NonZero, U512};
use p384::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256, Sha384};

use crate::layout::id_block::EcdsaPublicKey;
use crate::layout::report::EcdsaSignature;
use crate::layout::TcbVersion;
use crate::product::Product;

/// Label of the VCEK derivation.
pub const VCEK_LABEL: &[u8] = b"sev-versioned-chip-endorsement-key";
/// Label of the VLEK derivation.
pub const VLEK_LABEL: &[u8] = b"sev-versioned-loaded-attestation-key";

/// NIST SP 800-108 KDF in counter mode with HMAC-SHA-256, as AMD's firmware implements it.
pub fn nist_kdf(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let l_bits = u32::try_from(out.len() * 8).unwrap_or(u32::MAX);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let counter = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(&counter.to_le_bytes());
        mac.update(label);
        mac.update(&[0]);
        mac.update(context);
        mac.update(&l_bits.to_le_bytes());
        let block = mac.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

/// The TCB components as the hash stick walks them: one SVN per TCB_VERSION byte, reserved bytes 0.
fn stick_svns(tcb: &TcbVersion, product: Product) -> [u8; 8] {
    tcb.to_bytes(product.tcb_layout())
}

fn sha384(data: &[u8]) -> [u8; 48] {
    Sha384::digest(data).into()
}

fn hash_n(mut d: [u8; 48], n: u32) -> [u8; 48] {
    for _ in 0..n {
        d = sha384(&d);
    }
    d
}

/// The hash-stick state of one chip at one TCB: the per-component digests `d_i`, from which every lower
/// TCB's `vcek_hash` can be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashSticks {
    product: Product,
    svns: [u8; 8],
    d: [[u8; 48]; 8],
}

/// A TCB above the one a hash-stick state was made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TCB component {index} asks for SVN {wanted}, above the {held} this state holds: a higher TCB is not derivable")]
pub struct NotDerivable {
    /// TCB byte index.
    pub index: usize,
    /// SVN asked for.
    pub wanted: u8,
    /// SVN held.
    pub held: u8,
}

impl HashSticks {
    /// Builds the sticks from the boot-ROM seed at `tcb` (what the boot loader does at boot).
    pub fn from_seed(seed: &[u8; 48], tcb: &TcbVersion, product: Product) -> Self {
        let svns = stick_svns(tcb, product);
        let mut d = [[0u8; 48]; 8];
        let mut base = *seed;
        for i in 0..8 {
            d[i] = hash_n(base, 255 - u32::from(svns[i]));
            let mut next = [0u8; 56];
            next[8..].copy_from_slice(&d[i]);
            base = sha384(&next);
        }
        HashSticks { product, svns, d }
    }

    /// `vcek_hash` at the TCB this state was made for.
    pub fn vcek_hash(&self) -> [u8; 48] {
        sha384(&self.d[7])
    }

    /// The sticks at a TCB `lower` ≤ this one, component-wise, as firmware re-derives them for an older
    /// TCB (ASPFW `vcek_hash_derive`): from the first component that differs, hash forward and rebuild
    /// the following sticks.
    pub fn derive_lower(&self, lower: &TcbVersion) -> Result<HashSticks, NotDerivable> {
        let svns = stick_svns(lower, self.product);
        for (index, (&wanted, &held)) in svns.iter().zip(&self.svns).enumerate() {
            if wanted > held {
                return Err(NotDerivable {
                    index,
                    wanted,
                    held,
                });
            }
        }
        let mut d = self.d;
        let Some(first) = (0..8).find(|&i| svns[i] != self.svns[i]) else {
            return Ok(self.clone());
        };
        d[first] = hash_n(self.d[first], u32::from(self.svns[first] - svns[first]));
        for i in first + 1..8 {
            let mut next = [0u8; 56];
            next[8..].copy_from_slice(&d[i - 1]);
            d[i] = hash_n(sha384(&next), 255 - u32::from(svns[i]));
        }
        Ok(HashSticks {
            product: self.product,
            svns,
            d,
        })
    }
}

/// The P-384 private key from 56 bytes of KDF output by the "extra random bits" method.
pub fn key_from_extra_bits(rdata: &[u8; 56]) -> p384::SecretKey {
    // n - 1 of P-384.
    const N_MINUS_1: [u8; 48] = sim_core::hexarg::decode_const(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52972",
    );
    let mut c_le = [0u8; 64];
    c_le[..56].copy_from_slice(rdata);
    let c = U512::from_le_bytes(c_le);
    let mut m_be = [0u8; 64];
    m_be[16..].copy_from_slice(&N_MINUS_1);
    let m = U512::from_be_bytes(m_be);
    let m = Option::<NonZero<U512>>::from(NonZero::new(m)).expect("n-1 of P-384 is not zero");
    let d = c.rem(&m).wrapping_add(&U512::ONE);
    let d_be = d.to_be_bytes();
    let mut scalar = [0u8; 48];
    scalar.copy_from_slice(&d_be[16..]);
    // d is in [1, n-1], so this is a valid scalar.
    p384::SecretKey::from_bytes(&scalar.into()).expect("(c mod (n-1)) + 1 is a valid P-384 scalar")
}

/// `key_from_hash` of AMD's firmware: the KDF with `label`, then the extra-bits key.
pub fn key_from_hash(hash: &[u8; 48], label: &[u8]) -> p384::SecretKey {
    let mut rdata = [0u8; 56];
    nist_kdf(hash, label, &[], &mut rdata);
    key_from_extra_bits(&rdata)
}

/// The VCEK of a chip (boot-ROM `seed`) at `tcb`.
pub fn vcek(seed: &[u8; 48], tcb: &TcbVersion, product: Product) -> p384::SecretKey {
    key_from_hash(
        &HashSticks::from_seed(seed, tcb, product).vcek_hash(),
        VCEK_LABEL,
    )
}

/// The VLEK from a (decrypted) VLEK seed.
pub fn vlek(vlek_seed: &[u8; 48]) -> p384::SecretKey {
    key_from_hash(vlek_seed, VLEK_LABEL)
}

/// Signs `msg` with SHA-384 and returns AMD's signature format (R, S little-endian, zero-extended).
/// The nonce is RFC 6979 deterministic, so the same key and message give the same signature.
pub fn sign_amd(key: &p384::SecretKey, msg: &[u8]) -> EcdsaSignature {
    use p384::ecdsa::signature::Signer;
    let sk = p384::ecdsa::SigningKey::from(key);
    let sig: p384::ecdsa::Signature = sk.sign(msg);
    let (r, s) = sig.split_bytes();
    let mut out = EcdsaSignature::default();
    for i in 0..48 {
        out.r[i] = r[47 - i];
        out.s[i] = s[47 - i];
    }
    out
}

/// Converts AMD's signature format to a P-384 signature (None if R or S is not a valid scalar).
pub fn amd_to_signature(sig: &EcdsaSignature) -> Option<p384::ecdsa::Signature> {
    let mut r = [0u8; 48];
    let mut s = [0u8; 48];
    for i in 0..48 {
        r[i] = sig.r[47 - i];
        s[i] = sig.s[47 - i];
    }
    p384::ecdsa::Signature::from_scalars(r, s).ok()
}

/// Verifies an AMD-format signature over `msg` (SHA-384) with `key`.
pub fn verify_amd(key: &p384::ecdsa::VerifyingKey, msg: &[u8], sig: &EcdsaSignature) -> bool {
    use p384::ecdsa::signature::Verifier;
    match amd_to_signature(sig) {
        Some(s) => key.verify(msg, &s).is_ok(),
        None => false,
    }
}

/// A public key in AMD's ABI format (CURVE 2, QX and QY little-endian).
pub fn amd_public_key(key: &p384::PublicKey) -> EcdsaPublicKey {
    use zerocopy::FromZeros;
    let point = key.to_encoded_point(false);
    let mut out = EcdsaPublicKey::new_zeroed();
    out.curve.set(2);
    if let (Some(x), Some(y)) = (point.x(), point.y()) {
        for i in 0..48 {
            out.qx[i] = x[47 - i];
            out.qy[i] = y[47 - i];
        }
    }
    out
}

/// Converts an AMD-format public key to a P-384 key (None if not on the curve or CURVE ≠ 2).
pub fn public_key_from_amd(key: &EcdsaPublicKey) -> Option<p384::PublicKey> {
    if key.curve.get() != 2 || key.qx[48..].iter().chain(&key.qy[48..]).any(|b| *b != 0) {
        return None;
    }
    let mut sec1 = [0u8; 97];
    sec1[0] = 4;
    for i in 0..48 {
        sec1[1 + i] = key.qx[47 - i];
        sec1[49 + i] = key.qy[47 - i];
    }
    p384::PublicKey::from_sec1_bytes(&sec1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 48] = [7u8; 48];

    #[test]
    fn kdf_matches_an_independent_hmac_computation() {
        // Block 1 of the KDF is HMAC-SHA-256(K, 01000000 ‖ label ‖ 00 ‖ L=0x1c0 bits as LE u32).
        let key = [0x11u8; 48];
        let mut out = [0u8; 56];
        nist_kdf(&key, VCEK_LABEL, &[], &mut out);
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(&[1, 0, 0, 0]);
        m.update(VCEK_LABEL);
        m.update(&[0]);
        m.update(&[0xc0, 0x01, 0, 0]);
        assert_eq!(out[..32], m.finalize().into_bytes()[..]);
    }

    #[test]
    fn same_chip_and_tcb_give_the_same_key_and_tcbs_differ() {
        let t = TcbVersion::legacy(3, 0, 8, 115);
        assert_eq!(
            vcek(&SEED, &t, Product::Milan).to_bytes(),
            vcek(&SEED, &t, Product::Milan).to_bytes()
        );
        let t2 = TcbVersion::legacy(3, 0, 8, 116);
        assert_ne!(
            vcek(&SEED, &t, Product::Milan).to_bytes(),
            vcek(&SEED, &t2, Product::Milan).to_bytes()
        );
        assert_ne!(
            vcek(&SEED, &t, Product::Milan).to_bytes(),
            vcek(&[8u8; 48], &t, Product::Milan).to_bytes()
        );
    }

    #[test]
    fn lower_tcb_is_derivable_and_higher_is_not() {
        let high = TcbVersion::legacy(4, 1, 24, 219);
        let sticks = HashSticks::from_seed(&SEED, &high, Product::Genoa);
        for low in [
            TcbVersion::legacy(4, 1, 24, 200),
            TcbVersion::legacy(4, 1, 10, 219),
            TcbVersion::legacy(2, 0, 24, 219),
            TcbVersion::legacy(0, 0, 0, 0),
        ] {
            let derived = sticks.derive_lower(&low).unwrap();
            assert_eq!(
                derived.vcek_hash(),
                HashSticks::from_seed(&SEED, &low, Product::Genoa).vcek_hash(),
                "{low}"
            );
        }
        let e = sticks
            .derive_lower(&TcbVersion::legacy(4, 1, 25, 0))
            .unwrap_err();
        assert_eq!(
            e,
            NotDerivable {
                index: 6,
                wanted: 25,
                held: 24
            }
        );
        let turin =
            HashSticks::from_seed(&SEED, &TcbVersion::turin(1, 1, 1, 4, 81), Product::Turin);
        assert!(turin
            .derive_lower(&TcbVersion::turin(2, 1, 1, 4, 81))
            .is_err());
        assert_eq!(
            turin
                .derive_lower(&TcbVersion::turin(0, 1, 1, 4, 81))
                .unwrap()
                .vcek_hash(),
            HashSticks::from_seed(&SEED, &TcbVersion::turin(0, 1, 1, 4, 81), Product::Turin)
                .vcek_hash()
        );
    }

    #[test]
    fn extra_bits_reduction_is_c_mod_n_minus_1_plus_1() {
        // c = 0 gives d = 1; c = n-1 gives d = 1; c = n-2 gives d = n-1.
        assert_eq!(key_from_extra_bits(&[0u8; 56]).to_bytes()[47], 1);
        let n_minus_1 = hex::decode("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52972").unwrap();
        let mut le = [0u8; 56];
        for i in 0..48 {
            le[i] = n_minus_1[47 - i];
        }
        let k = key_from_extra_bits(&le);
        assert_eq!(k.to_bytes()[47], 1);
        assert!(k.to_bytes()[..47].iter().all(|b| *b == 0));
        le[0] -= 1; // c = n - 2, so d = (n - 2) + 1 = n - 1
        assert_eq!(
            &key_from_extra_bits(&le).to_bytes()[..],
            n_minus_1.as_slice()
        );
    }

    #[test]
    fn amd_signature_round_trip_and_public_key_format() {
        let k = vcek(&SEED, &TcbVersion::legacy(1, 0, 1, 1), Product::Milan);
        let sig = sign_amd(&k, b"message");
        assert!(sig.r[48..].iter().all(|b| *b == 0));
        let vk = p384::ecdsa::VerifyingKey::from(&k.public_key());
        assert!(verify_amd(&vk, b"message", &sig));
        assert!(!verify_amd(&vk, b"messagE", &sig));
        let amd = amd_public_key(&k.public_key());
        assert_eq!(amd.curve.get(), 2);
        assert_eq!(public_key_from_amd(&amd), Some(k.public_key()));
    }
}
