//! The SNP_GUEST_REQUEST protocol: sequence numbers, VMPL and KEY_SEL rules, authentication, the
//! extended request's INVALID_LEN, derived keys, masks, SNP_CONFIG's reported TCB and the ID block.

#![allow(clippy::unwrap_used)]

use sim_snp::keys;
use sim_snp::layout::cert_table;
use sim_snp::layout::guest_msg::{msg_type, KeyReq, ReportReq};
use sim_snp::layout::policy::SigningKey;
use sim_snp::layout::{GuestPolicy, TcbVersion};
use sim_snp::report::{AttestationReport, TcbField};
use sim_snp::sp::guest_request::{DriverError, ExtRequestError};
use sim_snp::sp::launch::{IdBlockInput, PAGE_SIZE};
use sim_snp::sp::{FwStatus, Guest, GuestDriver, Platform, PlatformConfig, VlekConfig};
use sim_snp::verify::{Evidence, Options, Policy};
use sim_snp::Product;
use zerocopy::{FromZeros, IntoBytes};

fn running(config: PlatformConfig) -> (Platform, Guest) {
    let p = Platform::new(config).unwrap();
    let mut g = p.launch_start(1, GuestPolicy::DEFAULT).unwrap();
    p.launch_update(
        &mut g,
        0x1000,
        sim_snp::layout::page_info::PageType::Normal,
        &[3; PAGE_SIZE],
        [0; 3],
    )
    .unwrap();
    p.launch_finish(&mut g, None, false, [0; 32]).unwrap();
    (p, g)
}

fn report_req(vmpl: u32, key_sel: u32) -> Vec<u8> {
    let mut r = ReportReq::new_zeroed();
    r.vmpl.set(vmpl);
    r.key_sel.set(key_sel);
    r.as_bytes().to_vec()
}

#[test]
fn sequence_numbers_must_advance_by_two() {
    let (p, mut g) = running(PlatformConfig::new(Product::Genoa, 1));
    let mut d = GuestDriver::new(&g, 0);
    let first = d.request(msg_type::REPORT_REQ, &report_req(0, 0));
    let rsp = p.guest_request(&mut g, &first).unwrap();
    d.response(msg_type::REPORT_REQ, &rsp).unwrap();
    assert_eq!(d.seqno, 3);
    // Replaying the first request: its seqno 1 is no longer count + 1.
    assert_eq!(p.guest_request(&mut g, &first), Err(FwStatus::AEAD_OFLOW));
    // Skipping ahead fails too.
    let mut skip = d.clone();
    skip.seqno = 5;
    assert_eq!(
        p.guest_request(
            &mut g,
            &skip.request(msg_type::REPORT_REQ, &report_req(0, 0))
        ),
        Err(FwStatus::AEAD_OFLOW)
    );
    // The right one succeeds.
    assert!(d.get_report(&p, &mut g, [0; 64], 0, 0).is_ok());
    assert_eq!(d.seqno, 5);
}

#[test]
fn tampered_or_malformed_requests_are_refused() {
    let (p, mut g) = running(PlatformConfig::new(Product::Milan, 1));
    let d = GuestDriver::new(&g, 0);
    let mut msg = d.request(msg_type::REPORT_REQ, &report_req(0, 0));
    msg[0x60] ^= 1;
    assert_eq!(p.guest_request(&mut g, &msg).unwrap_err().code(), 0x16);
    let mut msg = d.request(msg_type::REPORT_REQ, &report_req(0, 0));
    msg[0x31] = 2; // HDR_VERSION
    assert_eq!(p.guest_request(&mut g, &msg).unwrap_err().code(), 0x16);
    // MSG_SIZE not a multiple of 16.
    let msg = d.request(msg_type::REPORT_REQ, &[0u8; 0x58]);
    assert_eq!(p.guest_request(&mut g, &msg).unwrap_err().code(), 0x16);
    // A request under another VMPCK than the header names does not authenticate.
    let mut other = GuestDriver::new(&g, 1);
    other.vmpck_id = 0;
    assert_eq!(
        p.guest_request(
            &mut g,
            &other.request(msg_type::REPORT_REQ, &report_req(0, 0))
        )
        .unwrap_err()
        .code(),
        0x16
    );
}

#[test]
fn vmpl_and_key_sel_rules_return_status_in_the_response() {
    let (p, mut g) = running(PlatformConfig::new(Product::Genoa, 2));
    let mut d2 = GuestDriver::new(&g, 2);
    // VMPL 1 requested through VMPCK2: INVALID_PARAM.
    assert_eq!(
        d2.get_report(&p, &mut g, [0; 64], 1, 0),
        Err(DriverError::Status(0x16))
    );
    // VMPL 3 through VMPCK2 is fine.
    let r = d2.get_report(&p, &mut g, [7; 64], 3, 0).unwrap();
    assert_eq!(AttestationReport::parse(&r).unwrap().raw.vmpl.get(), 3);
    // KEY_SEL 2 without a VLEK, and KEY_SEL 3: INVALID_KEY.
    assert_eq!(
        d2.get_report(&p, &mut g, [0; 64], 2, 2),
        Err(DriverError::Status(0x27))
    );
    assert_eq!(
        d2.get_report(&p, &mut g, [0; 64], 2, 3),
        Err(DriverError::Status(0x27))
    );
}

#[test]
fn extended_request_reports_the_pages_it_needs() {
    let (p, mut g) = running(PlatformConfig::new(Product::Genoa, 3));
    let certs = p
        .cert_table(SigningKey::Vcek, sim_core::time::ISSUE_EPOCH)
        .unwrap();
    let pages = certs.len().div_ceil(4096);
    assert!(pages >= 2, "ARK + ASK + VCEK exceed one page");
    let mut d = GuestDriver::new(&g, 0);
    let msg = d.request(msg_type::REPORT_REQ, &report_req(0, 0));
    assert_eq!(
        p.ext_guest_request(&mut g, &msg, &certs, 1),
        Err(ExtRequestError::InvalidLen {
            pages_needed: pages
        })
    );
    // The failed attempt consumed no sequence number: the same request succeeds with enough pages.
    let (rsp, buf) = p.ext_guest_request(&mut g, &msg, &certs, pages).unwrap();
    assert_eq!(buf.len(), pages * 4096);
    let body = d.response(msg_type::REPORT_REQ, &rsp).unwrap();
    let report = &body[0x20..0x20 + 0x4A0];
    let entries = cert_table::decode(&buf).unwrap();
    let get = |guid| {
        entries
            .iter()
            .find(|e| e.guid == guid)
            .unwrap()
            .data
            .clone()
    };
    let (vek, ask, ark) = (
        get(cert_table::GUID_VCEK),
        get(cert_table::GUID_ASK),
        get(cert_table::GUID_ARK),
    );
    let ev = Evidence {
        report,
        vek: Some(&vek),
        ask: Some(&ask),
        ark: Some(&ark),
        crl: None,
        product: None,
    };
    let v = sim_snp::verify::verify(
        &ev,
        &Policy::default(),
        Options {
            now: sim_core::time::ISSUE_EPOCH + 1,
        },
    );
    assert!(v.is_valid(), "{}", v.render_human());
}

fn key_req(gfs: u64, vmpl: u32, tcb: u64, key_select: u32) -> KeyReq {
    let mut k = KeyReq::new_zeroed();
    k.guest_field_select.set(gfs);
    k.vmpl.set(vmpl);
    k.tcb_version.set(tcb);
    k.key_select.set(key_select);
    k
}

#[test]
fn derived_keys_follow_their_inputs() {
    let (p, mut g) = running(PlatformConfig::new(Product::Genoa, 4));
    let mut d = GuestDriver::new(&g, 0);
    let layout = Product::Genoa.tcb_layout();
    let committed = p.committed_tcb();
    let k1 = d
        .get_derived_key(&p, &mut g, &key_req(0x8, 0, 0, 0))
        .unwrap();
    assert_eq!(
        k1,
        d.get_derived_key(&p, &mut g, &key_req(0x8, 0, 0, 0))
            .unwrap(),
        "same inputs, same key"
    );
    assert_ne!(
        k1,
        d.get_derived_key(&p, &mut g, &key_req(0x8, 1, 0, 0))
            .unwrap(),
        "VMPL is mixed in"
    );
    assert_ne!(
        k1,
        d.get_derived_key(&p, &mut g, &key_req(0x8, 0, 0, 1))
            .unwrap(),
        "VMRK root differs"
    );
    // An older TCB is derivable and gives another key; a newer one is refused.
    let mut older = committed;
    older.microcode -= 1;
    let ko = d
        .get_derived_key(&p, &mut g, &key_req(0x28, 0, older.to_u64(layout), 0))
        .unwrap();
    let kc = d
        .get_derived_key(&p, &mut g, &key_req(0x28, 0, committed.to_u64(layout), 0))
        .unwrap();
    assert_ne!(ko, kc);
    let mut newer = committed;
    newer.snp += 1;
    assert_eq!(
        d.get_derived_key(&p, &mut g, &key_req(0x28, 0, newer.to_u64(layout), 0)),
        Err(DriverError::Status(0x16))
    );
    // Reserved GUEST_FIELD_SELECT bits.
    assert_eq!(
        d.get_derived_key(&p, &mut g, &key_req(0x80, 0, 0, 0)),
        Err(DriverError::Status(0x16))
    );
    // The key matches an independent computation of the KDF over MIX_DATA (snp.md §5.3).
    let mut mix = Vec::new();
    mix.extend(0u32.to_le_bytes());
    mix.extend(0u32.to_le_bytes());
    mix.extend(0x8u64.to_le_bytes());
    mix.extend(0u32.to_le_bytes());
    mix.extend([0u8; 4 + 8 + 8 + 16 + 16]);
    mix.extend(&g.ld[..32]);
    mix.extend([0u8; 32 + 32]);
    let mut expect = [0u8; 32];
    keys::nist_kdf(
        &p.vcek_hash(&committed).unwrap(),
        b"gmsg-keyreq",
        &mix,
        &mut expect,
    );
    assert_eq!(k1, expect);
}

#[test]
fn mask_chip_key_leaves_reports_unsigned_and_mask_chip_id_zeroes_the_id() {
    let mut c = PlatformConfig::new(Product::Milan, 5);
    c.mask_chip_key = true;
    c.mask_chip_id = true;
    let (p, mut g) = running(c);
    let mut d = GuestDriver::new(&g, 0);
    let r = AttestationReport::parse(&d.get_report(&p, &mut g, [0; 64], 0, 0).unwrap()).unwrap();
    assert_eq!(r.key_info().signing_key(), SigningKey::None);
    assert!(r.key_info().mask_chip_key());
    assert_eq!(r.raw.signature.r, [0; 72]);
    assert_eq!(r.raw.chip_id, [0; 64]);
    assert_eq!(
        d.get_report(&p, &mut g, [0; 64], 0, 1),
        Err(DriverError::Status(0x27))
    );
    assert_eq!(
        d.get_derived_key(&p, &mut g, &key_req(0, 0, 0, 0)),
        Err(DriverError::Status(0x27))
    );
}

#[test]
fn a_loaded_vlek_signs_under_key_sel_0_and_2() {
    let mut c = PlatformConfig::new(Product::Turin, 6);
    c.vlek = Some(VlekConfig {
        csp_id: "example-csp".into(),
    });
    let (p, mut g) = running(c);
    let mut d = GuestDriver::new(&g, 0);
    for sel in [0, 2] {
        let r =
            AttestationReport::parse(&d.get_report(&p, &mut g, [0; 64], 0, sel).unwrap()).unwrap();
        assert_eq!(
            r.key_info().signing_key(),
            SigningKey::Vlek,
            "KEY_SEL {sel}"
        );
    }
    let r = AttestationReport::parse(&d.get_report(&p, &mut g, [0; 64], 0, 1).unwrap()).unwrap();
    assert_eq!(r.key_info().signing_key(), SigningKey::Vcek);
}

#[test]
fn snp_config_reported_tcb_is_what_signs() {
    let mut c = PlatformConfig::new(Product::Genoa, 7);
    let lower = TcbVersion::legacy(9, 0, 20, 80);
    c.reported_tcb = Some(lower);
    let (p, mut g) = running(c);
    let mut d = GuestDriver::new(&g, 0);
    let raw = d.get_report(&p, &mut g, [0; 64], 0, 1).unwrap();
    let r = AttestationReport::parse(&raw).unwrap();
    assert_eq!(r.tcb(TcbField::Reported, Product::Genoa), lower);
    assert_eq!(
        r.tcb(TcbField::Committed, Product::Genoa),
        p.committed_tcb()
    );
    // The KDS's VCEK for the lower TCB verifies it; the committed TCB's does not.
    let ca = sim_snp::pki::vendor(Product::Genoa);
    let good = p.vcek_cert(&lower, sim_core::time::ISSUE_EPOCH).unwrap();
    let ev = Evidence {
        report: &raw,
        vek: Some(&good),
        ask: Some(&ca.ask),
        ark: Some(&ca.ark),
        crl: None,
        product: None,
    };
    assert!(sim_snp::verify::verify(
        &ev,
        &Policy::default(),
        Options {
            now: sim_core::time::ISSUE_EPOCH + 1
        }
    )
    .is_valid());
    let wrong = p
        .vcek_cert(&p.committed_tcb(), sim_core::time::ISSUE_EPOCH)
        .unwrap();
    let ev = Evidence {
        vek: Some(&wrong),
        ..ev
    };
    let v = sim_snp::verify::verify(
        &ev,
        &Policy::default(),
        Options {
            now: sim_core::time::ISSUE_EPOCH + 1,
        },
    );
    assert!(v.failed("SNP-REPORT-SIGNATURE") && v.failed("SNP-REPORT-TCB-MATCHES-VEK"));
}

#[test]
fn the_id_block_reaches_the_report() {
    let p = Platform::new(PlatformConfig::new(Product::Genoa, 8)).unwrap();
    let mut g = p.launch_start(1, GuestPolicy::DEFAULT).unwrap();
    p.launch_update(
        &mut g,
        0x1000,
        sim_snp::layout::page_info::PageType::Normal,
        &[1; PAGE_SIZE],
        [0; 3],
    )
    .unwrap();
    let idk = keys::key_from_hash(&[9; 48], b"test-id-key");
    let ak = keys::key_from_hash(&[8; 48], b"test-author-key");
    let id = IdBlockInput::sign(g.ld, g.policy, [0xF; 16], [0x1; 16], 3, &idk, Some(&ak));
    p.launch_finish(&mut g, Some(&id), false, [0x44; 32])
        .unwrap();
    let mut d = GuestDriver::new(&g, 0);
    let r = AttestationReport::parse(&d.get_report(&p, &mut g, [0; 64], 0, 0).unwrap()).unwrap();
    use sha2::Digest;
    assert_eq!(
        r.raw.id_key_digest[..],
        sha2::Sha384::digest(id.id_auth.id_key.as_bytes())[..]
    );
    assert_eq!(
        r.raw.author_key_digest[..],
        sha2::Sha384::digest(id.id_auth.author_key.as_bytes())[..]
    );
    assert!(r.key_info().author_key_en());
    assert_eq!(
        (
            r.raw.guest_svn.get(),
            r.raw.family_id,
            r.raw.image_id,
            r.raw.host_data
        ),
        (3, [0xF; 16], [1; 16], [0x44; 32])
    );
    // GUEST_SVN above the ID block's is refused in MSG_KEY_REQ.
    let mut k = key_req(0x10, 0, 0, 0);
    k.guest_svn.set(4);
    assert_eq!(
        d.get_derived_key(&p, &mut g, &k),
        Err(DriverError::Status(0x16))
    );
}
