//! The CPU↔GPU channel: key schedule checked against the OpenSSL CLI's HKDF, IV rule, round trips,
//! and every attack scenario blocked.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use proptest::prelude::*;
use sim_gpu::channel::{self, Channel, PAGE};

fn openssl_kdf(mode: &str, digest: &str, key: &[u8], other: (&str, &[u8]), len: usize) -> Vec<u8> {
    let out = Command::new("openssl")
        .args([
            "kdf",
            "-keylen",
            &len.to_string(),
            "-kdfopt",
            &format!("digest:{digest}"),
            "-kdfopt",
            &format!("mode:{mode}"),
            "-kdfopt",
            &format!("hexkey:{}", hex::encode(key)),
            "-kdfopt",
            &format!("{}:{}", other.0, hex::encode(other.1)),
            "HKDF",
        ])
        .output()
        .expect("the openssl CLI is needed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hex::decode(String::from_utf8_lossy(&out.stdout).trim().replace(':', "")).unwrap()
}

fn bin(label: &str, ctx: &[u8]) -> Vec<u8> {
    // DSP0274 1.1 BinConcat: u16 LE length 48, "spdm1.1 ", label, context.
    let mut v = vec![48, 0];
    v.extend_from_slice(b"spdm1.1 ");
    v.extend_from_slice(label.as_bytes());
    v.extend_from_slice(ctx);
    v
}

#[test]
fn spdm_key_schedule_matches_openssl_hkdf() {
    let dhe = [0x3cu8; 48];
    let th1 = [0x01u8; 48];
    let th2 = [0x02u8; 48];
    let s = channel::key_schedule(&dhe, &th1, &th2);
    let hs = openssl_kdf("EXTRACT_ONLY", "SHA384", &dhe, ("hexsalt", &[0u8; 48]), 48);
    assert_eq!(s.handshake_secret.to_vec(), hs);
    let req_hs = openssl_kdf(
        "EXPAND_ONLY",
        "SHA384",
        &hs,
        ("hexinfo", &bin("req hs data", &th1)),
        48,
    );
    assert_eq!(s.request_handshake_secret.to_vec(), req_hs);
    let salt1 = openssl_kdf(
        "EXPAND_ONLY",
        "SHA384",
        &hs,
        ("hexinfo", &bin("derived", &[])),
        48,
    );
    let ms = openssl_kdf(
        "EXTRACT_ONLY",
        "SHA384",
        &[0u8; 48],
        ("hexsalt", &salt1),
        48,
    );
    assert_eq!(s.master_secret.to_vec(), ms);
    let ems = openssl_kdf(
        "EXPAND_ONLY",
        "SHA384",
        &ms,
        ("hexinfo", &bin("exp master", &th2)),
        48,
    );
    assert_eq!(s.export_master_secret.to_vec(), ems);
    // Channel key: HKDF-SHA256-Expand(EMK, "Lce00_h2d_user", 32).
    let emk = channel::export_master_key(&s);
    let k = openssl_kdf(
        "EXPAND_ONLY",
        "SHA256",
        &emk,
        ("hexinfo", b"Lce00_h2d_user"),
        32,
    );
    assert_eq!(channel::channel_key(&emk, "Lce00_h2d_user").to_vec(), k);
    // Rotation: HKDF-SHA256-Expand(SHA256(k), name, 32).
    let kk: [u8; 32] = k.clone().try_into().unwrap();
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(kk).to_vec()
    };
    let r = openssl_kdf(
        "EXPAND_ONLY",
        "SHA256",
        &sha,
        ("hexinfo", b"Lce00_h2d_user"),
        32,
    );
    assert_eq!(channel::rotate_key(&kk, "Lce00_h2d_user").to_vec(), r);
}

#[test]
fn iv_is_the_pre_incremented_le_counter_xor_mask() {
    let mask = [
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
    ];
    let mut s = channel::CryptoStream::new(&[7; 32], mask);
    assert_eq!(
        s.next_iv().unwrap(),
        [0xa1, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab]
    );
    assert_eq!(
        s.next_iv().unwrap(),
        [0xa2, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab]
    );
}

#[test]
fn staged_pages_are_ciphertext_with_16_byte_tags() {
    let mut ch = Channel::new(0, 3);
    let data = vec![0u8; 2 * PAGE + 10];
    let (sb, n) = ch.cpu_encrypt(&data).unwrap();
    assert_eq!(n, 3);
    assert!(sb.pages.iter().all(|p| p.len() == PAGE));
    assert_eq!(sb.tags.len(), 3);
    assert!(sb.pages[0].iter().filter(|b| **b == 0).count() < 64);
    let back = ch.gpu_decrypt(&sb, n).unwrap();
    assert_eq!(&back[..data.len()], &data[..]);
    assert!(back[data.len()..].iter().all(|b| *b == 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn both_directions_round_trip(data in proptest::collection::vec(any::<u8>(), 1..3 * PAGE), seed in 0u64..4) {
        let mut ch = Channel::new(seed, 0);
        let (sb, n) = ch.cpu_encrypt(&data).unwrap();
        let got = ch.gpu_decrypt(&sb, n).unwrap();
        prop_assert_eq!(&got[..data.len()], &data[..]);
        let (sb, n) = ch.gpu_encrypt(&data).unwrap();
        let got = ch.cpu_decrypt(&sb, n).unwrap();
        prop_assert_eq!(&got[..data.len()], &data[..]);
        prop_assert!(!ch.is_fatal());
    }

    #[test]
    fn any_flipped_staged_bit_is_fatal(page in 0usize..2, byte in 0usize..PAGE + 16, bit in 0u8..8) {
        let mut ch = Channel::new(1, 0);
        let (mut sb, n) = ch.cpu_encrypt(&[0x33u8; 2 * PAGE]).unwrap();
        if byte < PAGE { sb.pages[page][byte] ^= 1 << bit; } else { sb.tags[page][byte - PAGE] ^= 1 << bit; }
        prop_assert!(ch.gpu_decrypt(&sb, n).is_err());
        prop_assert!(ch.is_fatal());
        prop_assert_eq!(ch.cpu_encrypt(&[0u8; 16]).unwrap_err(), channel::ChannelError::Fatal);
    }
}

#[test]
fn every_attack_scenario_is_blocked() {
    for (name, _) in sim_gpu::attack::SCENARIOS {
        let r = sim_gpu::attack::run(name, 0).unwrap();
        assert!(r.matches_hardware(), "{name}: {}", r.render_human());
        assert!(r.rule.is_some(), "{name}");
    }
    assert!(sim_gpu::attack::run("no-such", 0).is_none());
}
