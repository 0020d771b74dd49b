//! The TDX-module side: MRTD by TDH.MEM.PAGE.ADD / TDH.MR.EXTEND (checked against `openssl dgst -sha384`
//! over the byte stream tdx.md §4.1 describes), the TDVF metadata walk (§4.2) on a synthetic image, RTMR
//! extension, TDG.MR.REPORT hashes, and the QE's checks (MAC, hashes, VALID).

#![allow(clippy::unwrap_used)]

use sim_tdx::layout::TdReport;
use sim_tdx::measure::{tdvf_mrtd, tdvf_sections, PageAddOrder};
use sim_tdx::module::{check_tdreport, Td, TdParams, TdxError, TdxPlatform};
use sim_tdx::qe::{QeError, QuoteVersion, QuotingEnclave};
use zerocopy::IntoBytes;

fn openssl_sha384(data: &[u8]) -> [u8; 48] {
    let p = std::env::temp_dir().join(format!("cvmsim-mrtd-{}-{}", std::process::id(), data.len()));
    std::fs::write(&p, data).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha384", "-binary"])
        .arg(&p)
        .output()
        .expect("openssl binary");
    let _ = std::fs::remove_file(&p);
    out.stdout.as_slice().try_into().unwrap()
}

/// The 128-byte block of tdx.md §4.1: ASCII name, zeros, GPA (u64 LE) at 16, zeros.
fn block(name: &str, gpa: u64) -> Vec<u8> {
    let mut b = vec![0u8; 128];
    b[..name.len()].copy_from_slice(name.as_bytes());
    b[16..24].copy_from_slice(&gpa.to_le_bytes());
    b
}

fn guid_bytes(s: &str) -> Vec<u8> {
    // Mixed-endian GUID encoding: first three fields little-endian.
    let h: Vec<u8> = hex::decode(s.replace('-', "")).unwrap();
    let mut out = Vec::new();
    out.extend(h[0..4].iter().rev());
    out.extend(h[4..6].iter().rev());
    out.extend(h[6..8].iter().rev());
    out.extend(&h[8..16]);
    out
}

/// A synthetic 64 KiB TDVF: BFV (2 pages, MR.EXTEND), TD_HOB (1 page, added not extended), TempMem
/// (PAGE.AUG: neither), metadata descriptor at 0x8000, OVMF GUIDed table ending at len - 0x20.
/// (data_offset, raw_data_size, memory_address, memory_data_size, type, attributes).
type Section = (u32, u32, u64, u64, u32, u32);

fn synthetic_tdvf() -> (Vec<u8>, Vec<Section>) {
    let len = 0x10000usize;
    let mut fw: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let sections = vec![
        (0x1000u32, 0x2000u32, 0xFFC0_0000u64, 0x2000u64, 0u32, 1u32),
        (0u32, 0u32, 0x0080_9000u64, 0x1000u64, 2u32, 0u32),
        (0u32, 0u32, 0x0080_A000u64, 0x2000u64, 3u32, 2u32),
    ];
    let desc = 0x8000usize;
    let mut d = b"TDVF".to_vec();
    d.extend((16 + 32 * sections.len() as u32).to_le_bytes());
    d.extend(1u32.to_le_bytes());
    d.extend((sections.len() as u32).to_le_bytes());
    for s in &sections {
        d.extend(s.0.to_le_bytes());
        d.extend(s.1.to_le_bytes());
        d.extend(s.2.to_le_bytes());
        d.extend(s.3.to_le_bytes());
        d.extend(s.4.to_le_bytes());
        d.extend(s.5.to_le_bytes());
    }
    fw[desc..desc + d.len()].copy_from_slice(&d);
    // Table: [other entry][metadata entry][footer], footer ends at len - 0x20.
    let mut table = Vec::new();
    let other = {
        let mut e = vec![0xAAu8; 6];
        e.extend(((6 + 18) as u16).to_le_bytes());
        e.extend(guid_bytes("00000000-1111-2222-3333-444444444444"));
        e
    };
    let meta = {
        let mut e = ((len - desc) as u32).to_le_bytes().to_vec();
        e.extend(((4 + 18) as u16).to_le_bytes());
        e.extend(guid_bytes("e47a6535-984a-4798-865e-4685a7bf8ec2"));
        e
    };
    table.extend(&other);
    table.extend(&meta);
    let total = table.len() + 18;
    table.extend((total as u16).to_le_bytes());
    table.extend(guid_bytes("96b582de-1fb2-45f7-baea-a366c55a082d"));
    let end = len - 0x20;
    fw[end - table.len()..end].copy_from_slice(&table);
    (fw, sections)
}

#[test]
fn tdvf_mrtd_matches_the_spec_stream_hashed_by_openssl() {
    let (fw, sections) = synthetic_tdvf();
    let parsed = tdvf_sections(&fw).unwrap();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].memory_address, 0xFFC0_0000);
    // Single pass: per page PAGE.ADD then 16 × (MR.EXTEND block ‖ 256 bytes).
    let mut single = Vec::new();
    let mut two = Vec::new();
    for (off, _raw, gpa, size, _ty, attr) in &sections {
        let pages = size / 4096;
        let add = attr & 2 == 0;
        let ext = attr & 1 != 0;
        for p in 0..pages {
            let g = gpa + p * 4096;
            if add {
                single.extend(block("MEM.PAGE.ADD", g));
            }
            if ext {
                for i in 0..16 {
                    single.extend(block("MR.EXTEND", g + i * 256));
                    let o = *off as usize + (p * 4096 + i * 256) as usize;
                    single.extend(&fw[o..o + 256]);
                }
            }
        }
        if add {
            for p in 0..pages {
                two.extend(block("MEM.PAGE.ADD", gpa + p * 4096));
            }
        }
        if ext {
            for p in 0..pages {
                for i in 0..16 {
                    two.extend(block("MR.EXTEND", gpa + p * 4096 + i * 256));
                    let o = *off as usize + (p * 4096 + i * 256) as usize;
                    two.extend(&fw[o..o + 256]);
                }
            }
        }
    }
    assert_eq!(
        tdvf_mrtd(&fw, PageAddOrder::SinglePass).unwrap(),
        openssl_sha384(&single)
    );
    assert_eq!(
        tdvf_mrtd(&fw, PageAddOrder::TwoPass).unwrap(),
        openssl_sha384(&two)
    );
    assert_ne!(openssl_sha384(&single), openssl_sha384(&two));
}

#[test]
fn tdvf_errors_name_the_field() {
    let (mut fw, _) = synthetic_tdvf();
    let n = fw.len();
    fw[n - 0x20 - 1] ^= 0xFF; // footer GUID
    let e = tdvf_sections(&fw).unwrap_err();
    assert_eq!(e.field, "OVMF_TABLE_FOOTER_GUID");
    assert!(tdvf_sections(&[0u8; 10]).is_err());
    let (mut fw, _) = synthetic_tdvf();
    fw[0x8000] = b'X';
    assert_eq!(
        tdvf_sections(&fw).unwrap_err().field,
        "TDVF_DESCRIPTOR.signature"
    );
}

#[test]
fn td_creation_follows_the_seamcall_order() {
    let mut td = Td::mng_create(17);
    assert_eq!(td.hkid(), 17);
    assert_eq!(td.page_add(0x1000), Err(TdxError::TDX_OP_STATE_INCORRECT));
    assert_eq!(
        td.mng_init(TdParams::default()),
        Err(TdxError::TDX_TD_KEYS_NOT_CONFIGURED)
    );
    td.mng_key_config().unwrap();
    assert_eq!(td.mng_key_config(), Err(TdxError::TDX_KEY_CONFIGURED));
    td.mng_init(TdParams::default()).unwrap();
    assert_eq!(
        td.mng_init(TdParams::default()),
        Err(TdxError::TDX_OP_STATE_INCORRECT)
    );
    td.page_add(0x1000).unwrap();
    let a = td.finalize().unwrap();
    let mut b = Td::create(TdParams::default());
    b.page_add(0x1000).unwrap();
    assert_eq!(b.finalize().unwrap(), a);
    assert_eq!(a, openssl_sha384(&block("MEM.PAGE.ADD", 0x1000)));
}

#[test]
fn td_build_measures_gpas_and_contents_and_enforces_op_state() {
    let page = [0x42u8; 4096];
    let mut td = Td::create(TdParams::default());
    td.add_measured_page(0x1000, &page).unwrap();
    assert_eq!(td.page_add(0x1001), Err(TdxError::TDX_OPERAND_INVALID(1)));
    assert_eq!(
        td.rtmr_extend(0, &[0; 48]),
        Err(TdxError::TDX_OP_STATE_INCORRECT)
    );
    let mrtd = td.finalize().unwrap();
    let mut stream = block("MEM.PAGE.ADD", 0x1000);
    for i in 0..16u64 {
        stream.extend(block("MR.EXTEND", 0x1000 + i * 256));
        stream.extend([0x42u8; 256]);
    }
    assert_eq!(mrtd, openssl_sha384(&stream));
    assert_eq!(td.page_add(0x2000), Err(TdxError::TDX_OP_STATE_INCORRECT));
    assert_eq!(td.finalize(), Err(TdxError::TDX_OP_STATE_INCORRECT));
    assert_eq!(
        TdxError::TDX_OP_STATE_INCORRECT.code(),
        0xC000_0608_0000_0000
    );
    // RTMR: SHA-384(old ‖ data), index < 4.
    td.rtmr_extend(2, &[7; 48]).unwrap();
    let mut s = vec![0u8; 48];
    s.extend([7u8; 48]);
    assert_eq!(td.rtmrs()[2], openssl_sha384(&s));
    assert_eq!(
        td.rtmr_extend(4, &[0; 48]),
        Err(TdxError::TDX_OPERAND_INVALID(2))
    );
}

fn platform_and_report(seed: u64) -> (TdxPlatform, TdReport) {
    let mut svn = [0u8; 16];
    svn[..3].copy_from_slice(&[5, 1, 8]);
    let p = TdxPlatform::new(seed, [3; 16], svn, svn);
    let td = Td::with_mrtd(
        TdParams {
            attributes: 1 << 28,
            ..TdParams::default()
        },
        [9; 48],
    );
    let r = td.report(&p, &[0xAB; 64]).unwrap();
    (p, r)
}

#[test]
fn tdreport_hashes_follow_the_239_byte_rule() {
    let (_, r) = platform_and_report(1);
    let b = r.as_bytes();
    assert_eq!(b.len(), 1024);
    assert_eq!(b[0], 0x81);
    assert_eq!(&b[0x20..0x50], &openssl_sha384(&b[0x100..0x100 + 239])[..]);
    assert_eq!(&b[0x50..0x80], &openssl_sha384(&b[0x200..0x400])[..]);
    assert_eq!(&b[0x80..0xC0], &[0xAB; 64][..]);
    assert_eq!(&b[0x210..0x240], &[9; 48][..]);
    let c = check_tdreport(&r);
    assert!(c.type_ok && c.reserved_ok && c.tee_tcb_info_hash_ok && c.tee_info_hash_ok);
}

#[test]
fn the_qe_checks_the_mac_and_the_hashes() {
    let (p, r) = platform_and_report(1);
    let pck = sim_tdx::pki::derive_key("tdx/pck", 1);
    let qe = QuotingEnclave::new(1, pck.clone(), String::new(), p);
    assert!(qe.quote(&r, QuoteVersion::Auto).is_ok());
    // A report MACed on another platform.
    let (_, other) = platform_and_report(2);
    assert_eq!(
        qe.quote(&other, QuoteVersion::Auto).unwrap_err(),
        QeError::BadMac
    );
    // A changed REPORTDATA breaks the MAC.
    let mut m = r;
    m.report_mac_struct.report_data[0] ^= 1;
    assert_eq!(
        qe.quote(&m, QuoteVersion::Auto).unwrap_err(),
        QeError::BadMac
    );
    // A changed TDINFO (outside the MAC) breaks TEE_INFO_HASH.
    let mut m = r;
    m.td_info.mrtd[0] ^= 1;
    assert_eq!(
        qe.quote(&m, QuoteVersion::Auto).unwrap_err(),
        QeError::Hash("TEE_INFO_HASH")
    );
    let mut m = r;
    m.tee_tcb_info.valid[0] = 0x7F;
    assert!(matches!(
        qe.quote(&m, QuoteVersion::Auto).unwrap_err(),
        QeError::Valid(_)
    ));
    // The quote body carries the TDREPORT's fields.
    let q = qe.quote(&r, QuoteVersion::V5).unwrap();
    assert_eq!(q.version(), 5);
    assert_eq!(q.body.base().mrtd, [9; 48]);
    assert_eq!(q.body.base().report_data, [0xAB; 64]);
}
