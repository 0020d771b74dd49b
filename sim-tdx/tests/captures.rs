//! Real TDX evidence (vectors/tdx/captures, origins in vectors/tdx/README.md): every quote parses and
//! verifies to Intel's real root; with the captured 2023 collateral the full verification at a pinned time
//! gives the status the TCB info says (cross-checked with dcap-qvl); flipped bits fail; the TDREPORT→quote
//! pair maps field by field; the CCEL replay reproduces the quote's RTMRs.

#![allow(clippy::unwrap_used)]

use sim_core::parse::ParseErrorKind;
use sim_tdx::collateral::Collateral;
use sim_tdx::layout::TdReport;
use sim_tdx::quote::Quote;
use sim_tdx::verify::{verify_quote, Policy};
use zerocopy::{FromBytes, IntoBytes};

const V: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/tdx");
/// 2026-06-01T00:00:00Z: every PCK chain in the captures is valid then.
const NOW_2026: i64 = 1_780_272_000;
/// 2023-06-20T00:00:00Z: inside every window of the 2023 collateral set.
const NOW_2023: i64 = 1_687_219_200;

const QUOTES: [&str; 6] = [
    "cos-113-tdx-quote.dat",
    "quote_v5_sample.dat",
    "tdx_prod_quote_SPR_E4.dat",
    "az-tdx-vtpm_td-quote.bin",
    "tdx_quote_4.dat",
    "tdx_quote_5.dat",
];

fn read(p: &str) -> Vec<u8> {
    std::fs::read(format!("{V}/{p}")).unwrap()
}
fn text(p: &str) -> String {
    std::fs::read_to_string(format!("{V}/{p}")).unwrap()
}
fn intel_root() -> Vec<u8> {
    read("intel/intel_sgx_root_ca.der")
}

fn collateral_2023() -> Collateral {
    let root_pem = sim_core::x509::to_pem("CERTIFICATE", &intel_root());
    Collateral::from_pcs(
        &text("captures/sample_tcbInfo_response.json"),
        &text("captures/sample_qeIdentity_response.json"),
        &read("captures/rootcrl.der"),
        &read("captures/pckcrl_platform.der"),
        &(text("intel/intel_sgx_tcb_signing_2018.pem") + &root_pem),
        &(text("intel/intel_sgx_pck_platform_ca.pem") + &root_pem),
    )
    .unwrap()
}

const AUTH_CHECKS: [&str; 5] = [
    "TDX-QUOTE-QE-VENDOR",
    "TDX-QUOTE-SIGNATURE",
    "TDX-QE-REPORT-DATA",
    "TDX-PCK-CHAIN",
    "TDX-QE-REPORT-SIGNATURE",
];

#[test]
fn every_real_quote_verifies_to_intels_root() {
    for name in QUOTES {
        let b = read(&format!("captures/{name}"));
        let v = verify_quote(&b, None, &intel_root(), NOW_2026, &Policy::default()).unwrap();
        assert!(v.is_valid(), "{name}:\n{}", v.render_human());
        for id in AUTH_CHECKS {
            assert!(v.checks.iter().any(|c| c.id == id && c.ok), "{name}: {id}");
        }
    }
}

#[test]
fn versions_and_padding_are_read_from_the_length_fields() {
    let expect = [
        ("cos-113-tdx-quote.dat", 4, 2, 8000 - 4935),
        ("quote_v5_sample.dat", 5, 3, 0),
        ("tdx_prod_quote_SPR_E4.dat", 4, 2, 4974 - 4935),
        ("az-tdx-vtpm_td-quote.bin", 4, 2, 5006 - 4936),
        ("tdx_quote_4.dat", 4, 2, 0),
        ("tdx_quote_5.dat", 5, 3, 0),
    ];
    for (name, version, body_type, padding) in expect {
        let b = read(&format!("captures/{name}"));
        let q = Quote::parse(&b).unwrap();
        assert_eq!(
            (q.version(), q.body.body_type(), q.trailing.len()),
            (version, body_type, padding),
            "{name}"
        );
        // encode(parse(b)) == b, trailing bytes included.
        assert!(q.encode() == b, "{name}: encode(parse(b)) != b");
    }
}

#[test]
fn dcap_qvl_parses_the_same_fields() {
    for name in QUOTES {
        let b = read(&format!("captures/{name}"));
        let ours = Quote::parse(&b).unwrap();
        let theirs = dcap_qvl::quote::Quote::parse(&b).unwrap();
        let td = theirs.report.as_td10().unwrap();
        let base = ours.body.base();
        assert_eq!(td.mr_td, base.mrtd, "{name}");
        assert_eq!(td.report_data, base.report_data, "{name}");
        assert_eq!(td.rt_mr0, base.rtmr[0], "{name}");
        assert_eq!(td.rt_mr3, base.rtmr[3], "{name}");
        assert_eq!(td.tee_tcb_svn, base.tee_tcb_svn, "{name}");
        assert_eq!(theirs.header.version, ours.version(), "{name}");
    }
}

#[test]
fn captured_collateral_gives_the_tcb_info_status_at_a_pinned_time() {
    let c = collateral_2023();
    // tdx_quote_4 (FMSPC 50806F000000): CPUSVN 05 05 0D 02 03 01 00 03, PCESVN 11, TEE_TCB_SVN 03 00 05
    // meets the first level of the TCB info (05 05 02 02 03 01 00 03 / 11 / 03 00 05 → UpToDate); its
    // QE ISVSVN 4 meets the TD_QE level 4 (UpToDate).
    let q4 = read("captures/tdx_quote_4.dat");
    let v = verify_quote(&q4, Some(&c), &intel_root(), NOW_2023, &Policy::default()).unwrap();
    assert!(v.is_valid(), "{}", v.render_human());
    assert_eq!(v.claims["tcb_status"], "UpToDate");
    for id in [
        "TDX-CRL-ROOT",
        "TDX-CRL-PCK",
        "TDX-TCB-INFO-SIGNER",
        "TDX-TCB-INFO-SIGNATURE",
        "TDX-QE-IDENTITY-SIGNATURE",
        "TDX-TCB-INFO-FMSPC",
        "TDX-QE-IDENTITY",
        "TDX-TCB-MODULE-IDENTITY",
    ] {
        assert!(v.checks.iter().any(|c| c.id == id && c.ok), "{id}");
    }
    let coll: dcap_qvl::QuoteCollateralV3 = serde_json::from_str(&c.to_json()).unwrap();
    let r = dcap_qvl::verify::QuoteVerifier::new(intel_root())
        .allow_debug(true)
        .verify(&q4, &coll, NOW_2023 as u64)
        .unwrap();
    assert_eq!(r.status, "UpToDate");

    // SPR_E4: CPUSVN component 0 is 3 < 5 in every level: no matching TCB level.
    let e4 = read("captures/tdx_prod_quote_SPR_E4.dat");
    let v = verify_quote(&e4, Some(&c), &intel_root(), NOW_2023, &Policy::default()).unwrap();
    assert!(v.failed("TDX-TCB-STATUS"), "{}", v.render_human());
    let e = dcap_qvl::verify::QuoteVerifier::new(intel_root())
        .allow_debug(true)
        .verify(&e4, &coll, NOW_2023 as u64)
        .unwrap_err();
    assert!(format!("{e:#}").contains("No matching TCB level"), "{e:#}");

    // After the QE identity's nextUpdate (2023-07-08) the same collateral is stale.
    let v = verify_quote(
        &q4,
        Some(&c),
        &intel_root(),
        1_689_000_000,
        &Policy::default(),
    )
    .unwrap();
    assert!(v.failed("TDX-QE-IDENTITY-VALIDITY"));
    assert!(v.failed("TDX-CRL-PCK"));

    // Policy: tdx_quote_4 is a debug TD.
    let p = Policy {
        deny_debug: true,
        ..Policy::default()
    };
    let v = verify_quote(&q4, Some(&c), &intel_root(), NOW_2023, &p).unwrap();
    assert!(v.failed("TDX-POLICY-DEBUG"));
    // SPR_E4 does not set SEPT_VE_DISABLE.
    let p = Policy {
        require_sept_ve_disable: true,
        ..Policy::default()
    };
    let v = verify_quote(&e4, None, &intel_root(), NOW_2026, &p).unwrap();
    assert!(v.failed("TDX-POLICY-SEPT-VE-DISABLE"));
}

#[test]
fn a_changed_collateral_byte_breaks_its_signature() {
    let mut c = collateral_2023();
    c.tcb_info = c.tcb_info.replacen("UpToDate", "UpToDatf", 1);
    let q4 = read("captures/tdx_quote_4.dat");
    let v = verify_quote(&q4, Some(&c), &intel_root(), NOW_2023, &Policy::default()).unwrap();
    assert!(v.failed("TDX-TCB-INFO-SIGNATURE"));
    let mut c = collateral_2023();
    c.qe_identity = c
        .qe_identity
        .replacen("\"isvprodid\":2", "\"isvprodid\":3", 1);
    let v = verify_quote(&q4, Some(&c), &intel_root(), NOW_2023, &Policy::default()).unwrap();
    assert!(v.failed("TDX-QE-IDENTITY-SIGNATURE"));
}

#[test]
fn flipped_bits_fail() {
    for name in QUOTES {
        let b = read(&format!("captures/{name}"));
        let q = Quote::parse(&b).unwrap();
        let sig = q.sig_data_offset();
        let qe = sig + 134;
        let cases = [
            (0x30 + 136, "TDX-QUOTE-SIGNATURE"),         // MRTD
            (q.signed_len() - 1, "TDX-QUOTE-SIGNATURE"), // last body byte
            (sig + 3, "TDX-QUOTE-SIGNATURE"),            // the signature itself
            (sig + 64, "TDX-QE-REPORT-DATA"),            // attestation key
            (qe + 64, "TDX-QE-REPORT-SIGNATURE"),        // QE MRENCLAVE
            (qe + 384 + 7, "TDX-QE-REPORT-SIGNATURE"),   // QE report signature
            (qe + 450, "TDX-QE-REPORT-DATA"),            // QE auth data
        ];
        for (off, rule) in cases {
            let mut m = b.clone();
            m[off] ^= 0x01;
            let v = verify_quote(&m, None, &intel_root(), NOW_2026, &Policy::default()).unwrap();
            assert!(
                v.failed(rule),
                "{name} bit at 0x{off:x}: {}",
                v.render_human()
            );
        }
    }
}

#[test]
fn malformed_lengths_are_typed_errors_with_offsets() {
    let b = read("captures/quote_v5_sample.dat");
    let mut m = b.clone();
    m[50] = 0x89; // body_size 648 → 649
    let e = Quote::parse(&m).unwrap_err();
    assert_eq!((e.field, e.offset), ("body_size", 50));
    assert!(matches!(
        e.kind,
        ParseErrorKind::BadLength { value: 649, .. }
    ));
    let mut m = b.clone();
    m[0] = 3;
    assert_eq!(Quote::parse(&m).unwrap_err().field, "version");
    let e = Quote::parse(&b[..1000]).unwrap_err();
    assert_eq!((e.field, e.offset), ("signature_data", 706));
    assert!(matches!(e.kind, ParseErrorKind::Truncated { .. }));
    // certification data size one byte too long
    let q = Quote::parse(&b).unwrap();
    let off = q.sig_data_offset() + 130;
    let mut m = b.clone();
    m[off] = m[off].wrapping_add(1);
    let e = Quote::parse(&m).unwrap_err();
    assert_eq!((e.field, e.offset), ("certification_data_size", off));
    for cut in 0..b.len().min(800) {
        assert!(Quote::parse(&b[..cut]).is_err());
    }
}

#[test]
fn a_real_quote_fails_under_the_simulated_root() {
    let sim = sim_tdx::evidence::generate(&Default::default()).unwrap();
    let b = read("captures/tdx_quote_5.dat");
    let v = verify_quote(&b, None, &sim.root_der, NOW_2026, &Policy::default()).unwrap();
    assert!(v.failed("TDX-PCK-CHAIN"));
    // and the simulated quote fails under Intel's root
    let v = verify_quote(
        &sim.quote.encode(),
        None,
        &intel_root(),
        NOW_2026,
        &Policy::default(),
    )
    .unwrap();
    assert!(v.failed("TDX-PCK-CHAIN"));
}

#[test]
fn tdreport_maps_to_the_quote_field_by_field() {
    let hcl = read("captures/az-tdx-vtpm_hcl-report.bin");
    let r = TdReport::read_from_bytes(&hcl[32..1056]).unwrap();
    let c = sim_tdx::module::check_tdreport(&r);
    assert!(
        c.type_ok && c.tee_tcb_info_hash_ok && c.tee_info_hash_ok,
        "{c:?}"
    );
    // Hashing all 256 bytes of TEE_TCB_INFO would not match (the hashed length is 239).
    use sha2::{Digest, Sha384};
    assert_ne!(
        <[u8; 48]>::from(Sha384::digest(r.tee_tcb_info.as_bytes())),
        r.report_mac_struct.tee_tcb_info_hash
    );
    let q = Quote::parse(&read("captures/az-tdx-vtpm_td-quote.bin")).unwrap();
    let b = q.body.base();
    let t = &r.tee_tcb_info;
    let i = &r.td_info;
    assert_eq!(b.tee_tcb_svn, t.tee_tcb_svn);
    assert_eq!(b.mrseam, t.mrseam);
    assert_eq!(b.mrsignerseam, t.mrsignerseam);
    assert_eq!(b.seam_attributes, t.attributes);
    assert_eq!(b.td_attributes, i.attributes);
    assert_eq!(b.xfam, i.xfam);
    assert_eq!(b.mrtd, i.mrtd);
    assert_eq!(b.mrconfigid, i.mrconfigid);
    assert_eq!(b.mrowner, i.mrowner);
    assert_eq!(b.mrownerconfig, i.mrownerconfig);
    assert_eq!(b.rtmr, i.rtmr);
    assert_eq!(b.report_data, r.report_mac_struct.report_data);
    assert_eq!(q.cert.qe_report.cpusvn, r.report_mac_struct.cpusvn);
}

#[test]
fn ccel_replay_reproduces_the_gce_quote_rtmrs() {
    let table = read("captures/ccel_table.dat");
    assert_eq!(&table[..4], b"CCEL");
    assert_eq!(table[36], 2, "CC type 2 = TDX");
    let (rtmr, events) = sim_tdx::measure::ccel_replay(&read("captures/ccel_data.dat")).unwrap();
    assert_eq!(events.len(), 43, "43 events after the Spec ID event");
    let q = Quote::parse(&read("captures/cos-113-tdx-quote.dat")).unwrap();
    for (i, (ours, quoted)) in rtmr.iter().zip(q.body.base().rtmr).enumerate() {
        assert_eq!(hex::encode(ours), hex::encode(quoted), "RTMR{i}");
    }
    // The same through the TD model: TDG.MR.RTMR.EXTEND with each event's digest, then a simulated
    // quote carries the GCE TD's RTMRs.
    let extends = sim_tdx::measure::ccel_rtmr_extends(&read("captures/ccel_data.dat")).unwrap();
    let b = sim_tdx::evidence::generate(&sim_tdx::evidence::QuoteOptions {
        measurement: sim_tdx::evidence::Measurement::Mrtd(q.body.base().mrtd),
        rtmr_extends: extends,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(b.quote.body.base().rtmr, q.body.base().rtmr);
    assert_eq!(b.quote.body.base().mrtd, q.body.base().mrtd);
}
