//! TME-MK: the engine is standard XTS-AES-128 (checked against `openssl enc -aes-128-xts`), and the
//! TD-owner bit and the Ci MAC behave as tdx.md §5.6 says.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use sim_core::rules::RuleSet;
use sim_tdx::memory::tme::{
    HostAccessError, IntegrityMode, KeySlot, Memory, PoisonCause, MAC_MASK, PAGE_SIZE,
};

const K1: [u8; 16] = *b"0123456789abcdef";
const K2: [u8; 16] = *b"fedcba9876543210";

fn page(seed: u8) -> [u8; PAGE_SIZE] {
    let mut p = [0u8; PAGE_SIZE];
    for (i, b) in p.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add((i * 7 + i / 256) as u8);
    }
    p
}

/// OpenSSL's AES-128-XTS (through pyca/cryptography; `openssl enc` has no XTS) of one 4 KiB data
/// unit with the page address as the tweak.
fn openssl_xts(pa: u64, plain: &[u8]) -> Option<Vec<u8>> {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&pa.to_le_bytes());
    let script = format!(
        "import sys\nfrom cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes\n\
         e = Cipher(algorithms.AES(bytes.fromhex('{}{}')), modes.XTS(bytes.fromhex('{}'))).encryptor()\n\
         sys.stdout.write((e.update(bytes.fromhex('{}')) + e.finalize()).hex())",
        hex::encode(K1),
        hex::encode(K2),
        hex::encode(iv),
        hex::encode(plain)
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    hex::decode(String::from_utf8(out.stdout).ok()?.trim()).ok()
}

fn mem(mode: IntegrityMode) -> Memory {
    let mut m = Memory::new(64, mode, 0);
    m.program_key(20, KeySlot::new(&K1, &K2, [3; 8], 0x77));
    m.program_key(1, KeySlot::new(&K1, &K2, [3; 8], 0x77));
    m
}

#[test]
fn page_and_line_paths_are_xts_aes_128_as_openssl_computes_it() {
    let mut m = mem(IntegrityMode::Cryptographic);
    let p = page(1);
    // Whole-page path (TD write through a private HKID).
    m.td_write_page(0x5000, 20, &p);
    let ct = m.dram_read(5).unwrap();
    let expect = openssl_xts(0x5000, &p)
        .expect("python3 with pyca/cryptography (OpenSSL XTS) must be available");
    assert_eq!(&ct.data[..], &expect[..]);
    // Line path (host write through a shared KeyID with the same keys) gives the same ciphertext.
    m.host_write(0x9000, 1, &p, &RuleSet::all()).unwrap();
    let ct9 = m.dram_read(9).unwrap();
    assert_eq!(&ct9.data[..], &openssl_xts(0x9000, &p).unwrap()[..]);
    // The address is the tweak: the same plaintext elsewhere encrypts differently.
    assert_ne!(&ct.data[..], &ct9.data[..]);
}

#[test]
fn host_sees_zeros_of_td_lines_and_its_writes_poison_them() {
    let rules = RuleSet::all();
    for mode in [IntegrityMode::Cryptographic, IntegrityMode::Logical] {
        let mut m = mem(mode);
        m.td_write_page(0x5000, 20, &page(2));
        let mut out = [0xFFu8; 128];
        m.host_read(0x5040, 0, &mut out, &rules).unwrap();
        assert_eq!(out, [0u8; 128], "{mode:?}");
        let mut line = [0u8; 64];
        m.td_read_line(0x5040, 20, &mut line, &rules, true).unwrap();
        assert_eq!(&line[..], &page(2)[0x40..0x80]);
        // A write through KeyID 0 clears the owner bit of that line only.
        m.host_write(0x5040, 0, &[1; 64], &rules).unwrap();
        assert!(!m.owner_bit(0x5040) && m.owner_bit(0x5000));
        let p = m
            .td_read_line(0x5040, 20, &mut line, &rules, true)
            .unwrap_err();
        assert_eq!((p.pa, p.cause), (0x5040, PoisonCause::OwnerBit));
        m.td_read_line(0x5000, 20, &mut line, &rules, true).unwrap();
        // The host reads back what it wrote (the line is no longer TD-owned).
        m.host_read(0x5040, 0, &mut line, &rules).unwrap();
        assert_eq!(line, [1; 64]);
    }
}

#[test]
fn private_keyids_are_refused_outside_seam() {
    let mut m = mem(IntegrityMode::Cryptographic);
    let mut out = [0u8; 64];
    assert_eq!(
        m.host_read(0x5000, 20, &mut out, &RuleSet::all()),
        Err(HostAccessError::PrivateKeyId(20))
    );
    assert_eq!(
        m.host_write(0x5000, 17, &out, &RuleSet::all()),
        Err(HostAccessError::PrivateKeyId(17))
    );
    assert_eq!(
        m.host_read(0x5000, 64, &mut out, &RuleSet::all()),
        Err(HostAccessError::BadKeyId(64))
    );
    assert_eq!(
        m.host_read(64 * 4096, 0, &mut out, &RuleSet::all()),
        Err(HostAccessError::OutOfRange(64 * 4096))
    );
}

#[test]
fn ci_detects_flips_and_moves_but_not_replay_li_detects_neither() {
    let rules = RuleSet::all();
    for mode in [IntegrityMode::Cryptographic, IntegrityMode::Logical] {
        let mut m = mem(mode);
        let mut line = [0u8; 64];
        m.td_write_page(0x5000, 20, &page(3));
        let frame = m.dram_read(5).unwrap();
        for meta in frame.meta {
            assert!(meta.td_owner && meta.mac <= MAC_MASK);
        }
        let any_mac = frame.meta.iter().any(|x| x.mac != 0);
        assert_eq!(any_mac, mode == IntegrityMode::Cryptographic);
        // Physical bit flip.
        m.dram_flip(0x5085, 1);
        let r = m.td_read_line(0x5080, 20, &mut line, &rules, true);
        match mode {
            IntegrityMode::Cryptographic => assert_eq!(r.unwrap_err().cause, PoisonCause::Mac),
            IntegrityMode::Logical => assert_ne!(&line[..], &page(3)[0x80..0xC0]),
        }
        // Physical move to another address.
        m.dram_write(6, frame.clone());
        let r = m.td_read_line(0x6000, 20, &mut line, &rules, true);
        match mode {
            IntegrityMode::Cryptographic => assert_eq!(r.unwrap_err().cause, PoisonCause::Mac),
            IntegrityMode::Logical => assert_ne!(&line[..], &page(3)[..64]),
        }
        // Physical replay at the same address: not detected in either mode.
        m.td_write_page(0x5000, 20, &page(4));
        m.dram_write(5, frame);
        m.td_read_line(0x5000, 20, &mut line, &rules, true).unwrap();
        assert_eq!(&line[..], &page(3)[..64]);
    }
}
