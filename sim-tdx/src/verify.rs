//! The quote verifier: raw bytes in, a [`Verdict`] out (tdx.md §2.4, §3).
//!
//! Always checked (authenticity and structure): the QE vendor, the quote signature, the QE binding, the
//! PCK chain to the given root, the QE report signature and the PCK's SGX extension. With collateral:
//! both CRLs, the TCB-signing chain, the TCB info and QE identity signatures (over their raw bytes) and
//! validity windows, the QE identity, the TDX module identity and the TCB status (Revoked fails).
//! Appraisal policy runs only when asked ([`Policy`]).
//!
//! Rule IDs of the verdict, in the order they run:
//!
//! | rule | what |
//! |---|---|
//! | TDX-QUOTE-QE-VENDOR | qe_vendor_id is Intel's (tdx.md §2.1) |
//! | TDX-QUOTE-SIGNATURE | attestation-key signature over header ‖ body (§2.4.1) |
//! | TDX-QE-REPORT-DATA | QE report_data = SHA-256(key ‖ auth data) ‖ zeros (§2.4.2) |
//! | TDX-PCK-CHAIN | PCK ← PCK Platform/Processor CA ← the given root: names, signatures, CA flags, validity (§3.1) |
//! | TDX-QE-REPORT-SIGNATURE | PCK signature over the QE report (§2.4.3) |
//! | TDX-PCK-SGX-EXTENSION | the PCK's SGX extension parses (§3.2) |
//! | TDX-CRL-ROOT, TDX-CRL-PCK | CRL issuer, signature, this/nextUpdate, revocation of the PCK CA / PCK (§3.3) |
//! | TDX-TCB-INFO-SIGNER, TDX-QE-IDENTITY-SIGNER | "Intel SGX TCB Signing" directly under the root, valid, not revoked |
//! | TDX-TCB-INFO-SIGNATURE, TDX-QE-IDENTITY-SIGNATURE | ECDSA over the exact raw JSON bytes |
//! | TDX-TCB-INFO-FORMAT, TDX-QE-IDENTITY-FORMAT | the JSON parses (reported only on failure) |
//! | TDX-TCB-INFO-VALIDITY, TDX-QE-IDENTITY-VALIDITY | issueDate ≤ now ≤ nextUpdate |
//! | TDX-TCB-INFO-ID, TDX-TCB-INFO-FMSPC | id "TDX" v3+, FMSPC equals the PCK's |
//! | TDX-QE-IDENTITY | TD_QE MRSIGNER, ISVPRODID, MISCSELECT/ATTRIBUTES under mask (§3.5.5) |
//! | TDX-TCB-MODULE-IDENTITY | MRSIGNERSEAM / SEAMATTRIBUTES against `TDX_%02X` or `tdxModule` (§3.5.3) |
//! | TDX-TCB-STATUS | status by §3.5 (claim `tcb_status`); Revoked or no matching level fails |
//! | TDX-POLICY-TCB-STATUS, -DEBUG, -SEPT-VE-DISABLE, -MRTD, -RTMRn, -REPORT-DATA | opt-in policy |

use der::{Decode, Encode};
use p256::ecdsa::{Signature, VerifyingKey};
use signature::Verifier;
use sim_core::parse::ParseError;
use sim_core::x509 as sx;
use sim_core::{Platform, Verdict};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;
use zerocopy::IntoBytes;

use crate::collateral::{Collateral, QeIdentity, TcbInfo, TcbLevel, TcbStatus};
use crate::layout::quote::INTEL_QE_VENDOR_ID;
use crate::layout::tdreport::attributes;
use crate::layout::EnclaveReport;
use crate::pki::{CN_PCK, CN_PCK_PLATFORM_CA, CN_ROOT, CN_TCB_SIGNING, SGX_EXT_OID};
use crate::quote::{Quote, TdBody};

/// Appraisal policy; each field is checked only when set.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Fail a debug TD (ATTRIBUTES.DEBUG).
    pub deny_debug: bool,
    /// Require ATTRIBUTES.SEPT_VE_DISABLE.
    pub require_sept_ve_disable: bool,
    /// Expected MRTD.
    pub mrtd: Option<[u8; 48]>,
    /// Expected RTMRs.
    pub rtmr: [Option<[u8; 48]>; 4],
    /// Expected REPORTDATA.
    pub report_data: Option<[u8; 64]>,
    /// TCB statuses accepted (collateral needed).
    pub allowed_status: Option<Vec<TcbStatus>>,
}

/// The PCK certificate's SGX extension (tdx.md §3.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PckExtension {
    /// PPID hex.
    pub ppid: String,
    /// 16 CPU SVN components.
    pub cpusvn: [u8; 16],
    /// PCE SVN.
    pub pcesvn: u16,
    /// PCE ID hex.
    pub pceid: String,
    /// FMSPC.
    pub fmspc: [u8; 6],
    /// SGX type.
    pub sgx_type: u8,
}

fn der_items(bytes: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let tag = *bytes.get(i)?;
        let l0 = *bytes.get(i + 1)?;
        let (len, hdr) = if l0 < 0x80 {
            (usize::from(l0), 2)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 3 {
                return None;
            }
            let mut len = 0usize;
            for k in 0..n {
                len = (len << 8) | usize::from(*bytes.get(i + 2 + k)?);
            }
            (len, 2 + n)
        };
        let content = bytes.get(i + hdr..i + hdr + len)?;
        out.push((tag, content));
        i += hdr + len;
    }
    Some(out)
}

fn der_uint_value(c: &[u8]) -> Option<u64> {
    if c.is_empty() || c.len() > 9 {
        return None;
    }
    Some(c.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

/// Parses the SGX extension value (DER) of a PCK certificate.
pub fn parse_sgx_extension(value: &[u8]) -> Option<PckExtension> {
    const PREFIX: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];
    let top = der_items(value)?;
    let (t, seq) = top.first()?;
    if *t != 0x30 {
        return None;
    }
    let mut ext = PckExtension::default();
    let mut seen = [false; 5];
    for (tag, entry) in der_items(seq)? {
        if tag != 0x30 {
            return None;
        }
        let parts = der_items(entry)?;
        let (ot, oid) = parts.first()?;
        let (vt, val) = parts.get(1)?;
        if *ot != 0x06 || !oid.starts_with(&PREFIX) {
            return None;
        }
        match oid.get(9..)? {
            [1] if *vt == 0x04 => {
                ext.ppid = hex::encode(val);
                seen[0] = true;
            }
            [2] if *vt == 0x30 => {
                let mut comps = 0;
                for (_, c) in der_items(val)? {
                    let p = der_items(c)?;
                    let (_, coid) = p.first()?;
                    let (ct, cv) = p.get(1)?;
                    match coid.get(9..)? {
                        [2, n @ 1..=16] if *ct == 0x02 => {
                            let svn = u8::try_from(der_uint_value(cv)?).ok()?;
                            *ext.cpusvn.get_mut(usize::from(*n) - 1)? = svn;
                            comps += 1;
                        }
                        [2, 17] if *ct == 0x02 => {
                            ext.pcesvn = u16::try_from(der_uint_value(cv)?).ok()?;
                            comps += 1;
                        }
                        _ => {}
                    }
                }
                if comps != 17 {
                    return None;
                }
                seen[1] = true;
            }
            [3] if *vt == 0x04 => {
                ext.pceid = hex::encode(val);
                seen[2] = true;
            }
            [4] if *vt == 0x04 => {
                ext.fmspc = <[u8; 6]>::try_from(*val).ok()?;
                seen[3] = true;
            }
            [5] if *vt == 0x0a => {
                ext.sgx_type = *val.first()?;
                seen[4] = true;
            }
            _ => {}
        }
    }
    seen.iter().all(|s| *s).then_some(ext)
}

fn cn(name: &x509_cert::name::Name) -> String {
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == sx::oids::CN {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                    return s.as_str().to_string();
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                    return s.as_str().to_string();
                }
            }
        }
    }
    String::new()
}

fn key_of(cert: &Certificate) -> Option<VerifyingKey> {
    VerifyingKey::from_sec1_bytes(
        cert.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
    .ok()
}

fn raw_sig_ok(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    Signature::from_slice(sig)
        .map(|s| key.verify(msg, &s).is_ok())
        .unwrap_or(false)
}

fn serial(cert: &Certificate) -> Vec<u8> {
    cert.tbs_certificate.serial_number.as_bytes().to_vec()
}

fn is_ca(cert: &Certificate) -> bool {
    sx::find_ext(cert, &sx::oids::BASIC_CONSTRAINTS)
        .and_then(|e| {
            x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
        })
        .is_some_and(|bc| bc.ca)
}

fn window(cert: &Certificate) -> String {
    let v = &cert.tbs_certificate.validity;
    format!(
        "{}..{}",
        sim_core::time::to_rfc3339(sx::unix(&v.not_before)),
        sim_core::time::to_rfc3339(sx::unix(&v.not_after))
    )
}

/// Checks `child` is issued and signed by `parent`; returns an error text.
fn issued_by(child: &Certificate, child_der: &[u8], parent: &Certificate) -> Result<(), String> {
    if child.tbs_certificate.issuer != parent.tbs_certificate.subject {
        return Err(format!(
            "issuer {} is not the subject {}",
            child.tbs_certificate.issuer, parent.tbs_certificate.subject
        ));
    }
    sx::verify_signed(child_der, &sx::cert_spki(parent)).map_err(|e| e.to_string())
}

struct Crl {
    list: CertificateList,
    der: Vec<u8>,
}

impl Crl {
    fn check(&self, issuer: &Certificate, now: i64, who: &str) -> Result<String, String> {
        let t = &self.list.tbs_cert_list;
        if t.issuer != issuer.tbs_certificate.subject {
            return Err(format!(
                "{who} CRL issuer {} is not {}",
                t.issuer, issuer.tbs_certificate.subject
            ));
        }
        sx::verify_signed(&self.der, &sx::cert_spki(issuer))
            .map_err(|e| format!("{who} CRL signature: {e}"))?;
        let this = sx::unix(&t.this_update);
        let next = t.next_update.as_ref().map_or(i64::MAX, sx::unix);
        if now < this || now > next {
            return Err(format!(
                "{who} CRL valid {}..{}, now {}",
                sim_core::time::to_rfc3339(this),
                sim_core::time::to_rfc3339(next),
                sim_core::time::to_rfc3339(now)
            ));
        }
        Ok(format!(
            "{who} CRL signed by {}, valid {}..{}",
            cn(&issuer.tbs_certificate.subject),
            sim_core::time::to_rfc3339(this),
            sim_core::time::to_rfc3339(next)
        ))
    }

    fn revokes(&self, cert: &Certificate) -> bool {
        let s = serial(cert);
        self.list
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .is_some_and(|r| {
                r.iter()
                    .any(|rc| rc.serial_number.as_bytes() == s.as_slice())
            })
    }
}

fn parse_crl(hex_text: &str) -> Result<Crl, String> {
    let der = hex::decode(hex_text.trim()).map_err(|e| format!("not hex: {e}"))?;
    let list = CertificateList::from_der(&der).map_err(|e| e.to_string())?;
    Ok(Crl { list, der })
}

/// Result of the TCB evaluation (§3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcbEvaluation {
    /// Final status.
    pub status: TcbStatus,
    /// Platform status (launch TCB, converged with the module).
    pub platform: TcbStatus,
    /// QE status.
    pub qe: TcbStatus,
    /// Current-TCB status (TD 1.5), converged with the QE.
    pub current: Option<TcbStatus>,
    /// Union of advisories.
    pub advisory_ids: Vec<String>,
}

fn hex_arr<const N: usize>(s: &str) -> Option<[u8; N]> {
    <[u8; N]>::try_from(hex::decode(s).ok()?.as_slice()).ok()
}

fn platform_level(
    info: &TcbInfo,
    pck: &PckExtension,
    svn: &[u8; 16],
) -> Result<(TcbStatus, Vec<String>), String> {
    let mut levels: Vec<&TcbLevel> = info.tcb_levels.iter().collect();
    let key = |l: &TcbLevel| {
        (
            l.tcb
                .sgxtcbcomponents
                .iter()
                .map(|c| c.svn)
                .collect::<Vec<_>>(),
            l.tcb.pcesvn,
            l.tcb
                .tdxtcbcomponents
                .iter()
                .map(|c| c.svn)
                .collect::<Vec<_>>(),
        )
    };
    levels.sort_by_key(|l| std::cmp::Reverse(key(l)));
    let skip = if svn[1] > 0 { 2 } else { 0 };
    let mut found = None;
    for l in levels {
        if l.tcb.sgxtcbcomponents.len() != 16 || l.tcb.tdxtcbcomponents.len() != 16 {
            return Err("a TCB level does not have 16 SGX and 16 TDX components".into());
        }
        let sgx_ok = l
            .tcb
            .sgxtcbcomponents
            .iter()
            .zip(pck.cpusvn)
            .all(|(c, have)| u16::from(have) >= c.svn);
        let tdx_ok = l
            .tcb
            .tdxtcbcomponents
            .iter()
            .zip(svn)
            .skip(skip)
            .all(|(c, have)| u16::from(*have) >= c.svn);
        if sgx_ok && pck.pcesvn >= l.tcb.pcesvn && tdx_ok {
            found = Some(l);
            break;
        }
    }
    let l = found.ok_or_else(|| "no matching TCB level".to_string())?;
    let mut status = l.tcb_status;
    let mut adv = l.advisory_ids.clone();
    if svn[1] != 0 {
        let want = format!("TDX_{:02X}", svn[1]);
        let id = info
            .tdx_module_identities
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(&want))
            .ok_or_else(|| format!("no TDX module identity {want}"))?;
        let ml = id
            .tcb_levels
            .iter()
            .find(|m| u16::from(svn[0]) >= m.tcb.isvsvn)
            .ok_or_else(|| format!("TDX module ISV SVN {} below every level of {want}", svn[0]))?;
        status = status.converge_with(ml.tcb_status);
        for a in &ml.advisory_ids {
            if !adv.contains(a) {
                adv.push(a.clone());
            }
        }
    }
    Ok((status, adv))
}

/// Evaluates the TCB status of a quote (tdx.md §3.5).
pub fn evaluate_tcb(
    info: &TcbInfo,
    qe_id: &QeIdentity,
    pck: &PckExtension,
    body: &TdBody,
    qe_report: &EnclaveReport,
) -> Result<TcbEvaluation, String> {
    let (platform, mut adv) = platform_level(info, pck, &body.base().tee_tcb_svn)?;
    let qisv = qe_report.isvsvn.get();
    let ql = qe_id
        .tcb_levels
        .iter()
        .find(|l| qisv >= l.tcb.isvsvn)
        .ok_or_else(|| format!("QE ISV SVN {qisv} below every QE identity level"))?;
    for a in &ql.advisory_ids {
        if !adv.contains(a) {
            adv.push(a.clone());
        }
    }
    let mut status = platform.converge_with(ql.tcb_status);
    let current = match body.td15() {
        Some(b) => {
            let (c, cadv) = platform_level(info, pck, &b.tee_tcb_svn2)?;
            for a in cadv {
                if !adv.contains(&a) {
                    adv.push(a);
                }
            }
            Some(c.converge_with(ql.tcb_status))
        }
        None => None,
    };
    if status == TcbStatus::Revoked || current == Some(TcbStatus::Revoked) {
        status = TcbStatus::Revoked;
    } else if let Some(c) = current {
        status = status.relaunch(c);
    }
    Ok(TcbEvaluation {
        status,
        platform,
        qe: ql.tcb_status,
        current,
        advisory_ids: adv,
    })
}

fn time_ok(issue: &str, next: &str, now: i64) -> Result<String, String> {
    let i = sim_core::time::parse_rfc3339(issue)?;
    let n = sim_core::time::parse_rfc3339(next)?;
    if now < i || now > n {
        Err(format!(
            "valid {issue}..{next}, now {}",
            sim_core::time::to_rfc3339(now)
        ))
    } else {
        Ok(format!("valid {issue}..{next}"))
    }
}

/// Checks a signed collateral document's signing chain (leaf directly under `root`).
fn signer(
    v: &mut Verdict,
    id: &str,
    chain_pem: &str,
    root: &Certificate,
    root_crl: Option<&Crl>,
    now: i64,
) -> Option<VerifyingKey> {
    let certs = match sx::pem_certs(chain_pem) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            v.fail(id, "issuer chain holds no certificate");
            return None;
        }
        Err(e) => {
            v.fail(id, format!("issuer chain: {e}"));
            return None;
        }
    };
    let der = certs.first()?;
    let leaf = match Certificate::from_der(der) {
        Ok(c) => c,
        Err(e) => {
            v.fail(id, format!("TCB signing certificate: {e}"));
            return None;
        }
    };
    let name = cn(&leaf.tbs_certificate.subject);
    let res = (|| {
        if name != CN_TCB_SIGNING {
            return Err(format!("signer CN {name:?}, expected {CN_TCB_SIGNING:?}"));
        }
        issued_by(&leaf, der, root)?;
        if !sx::valid_at(&leaf, now) {
            return Err(format!(
                "signer valid {}, not at {}",
                window(&leaf),
                sim_core::time::to_rfc3339(now)
            ));
        }
        if root_crl.is_some_and(|c| c.revokes(&leaf)) {
            return Err("signer revoked by the root CRL".into());
        }
        Ok(())
    })();
    match res {
        Ok(()) => {
            v.pass(
                id,
                format!("{name} issued by the root, valid {}", window(&leaf)),
            );
            key_of(&leaf)
        }
        Err(e) => {
            v.fail(id, e);
            None
        }
    }
}

/// Verifies a quote. Parse failures are errors (exit 2); every check lands in the verdict.
pub fn verify_quote(
    bytes: &[u8],
    collateral: Option<&Collateral>,
    root_der: &[u8],
    now: i64,
    policy: &Policy,
) -> Result<Verdict, ParseError> {
    let q = Quote::parse(bytes)?;
    let mut v = Verdict::new(Platform::Tdx);
    claims(&mut v, &q);
    // 1. QE vendor.
    v.check(
        "TDX-QUOTE-QE-VENDOR",
        q.header.qe_vendor_id == INTEL_QE_VENDOR_ID,
        format!(
            "qe_vendor_id {} at 0xc",
            hex::encode_upper(q.header.qe_vendor_id)
        ),
    );
    // 2. Quote signature by the attestation key.
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(&q.attestation_key);
    let att = VerifyingKey::from_sec1_bytes(&sec1).ok();
    let sig_off = q.sig_data_offset();
    v.check(
        "TDX-QUOTE-SIGNATURE",
        att.as_ref()
            .is_some_and(|k| raw_sig_ok(k, &q.signed_bytes(), &q.signature)),
        format!(
            "ECDSA-P256-SHA256 at 0x{sig_off:x} over bytes 0..0x{:x} with the attestation key at 0x{:x}",
            q.signed_len(),
            sig_off + 64
        ),
    );
    // 3. QE binding.
    {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(q.attestation_key);
        h.update(&q.cert.qe_auth_data);
        let want: [u8; 32] = h.finalize().into();
        let rd = q.cert.qe_report.report_data;
        v.check(
            "TDX-QE-REPORT-DATA",
            rd[..32] == want && rd[32..].iter().all(|b| *b == 0),
            "QE report_data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes",
        );
    }
    // 4. PCK chain to the root.
    let root = match Certificate::from_der(root_der) {
        Ok(r) => r,
        Err(e) => {
            v.fail("TDX-PCK-CHAIN", format!("root certificate: {e}"));
            v.finish();
            return Ok(v);
        }
    };
    let chain = sx::pem_certs(&q.pck_chain_pem()).unwrap_or_default();
    let parsed: Vec<(Certificate, &Vec<u8>)> = chain
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok().map(|c| (c, d)))
        .collect();
    let mut leaf: Option<Certificate> = None;
    let mut ca: Option<Certificate> = None;
    let res = (|| {
        if parsed.len() < 2 || parsed.len() != chain.len() {
            return Err(format!(
                "certification data holds {} certificates ({} parse); need PCK and PCK CA",
                chain.len(),
                parsed.len()
            ));
        }
        let (l, ld) = &parsed[0];
        let (c, cd) = &parsed[1];
        let lcn = cn(&l.tbs_certificate.subject);
        let ccn = cn(&c.tbs_certificate.subject);
        if lcn != CN_PCK {
            return Err(format!("leaf CN {lcn:?}, expected {CN_PCK:?}"));
        }
        if ccn != CN_PCK_PLATFORM_CA && ccn != "Intel SGX PCK Processor CA" {
            return Err(format!(
                "intermediate CN {ccn:?} is not a PCK Platform/Processor CA"
            ));
        }
        if cn(&root.tbs_certificate.subject) != CN_ROOT {
            return Err(format!("root CN is not {CN_ROOT:?}"));
        }
        issued_by(&root, root_der, &root).map_err(|e| format!("root self-signature: {e}"))?;
        issued_by(c, cd, &root).map_err(|e| format!("PCK CA: {e}"))?;
        issued_by(l, ld, c).map_err(|e| format!("PCK leaf: {e}"))?;
        if !is_ca(c) || !is_ca(&root) || is_ca(l) {
            return Err("basic constraints: root and PCK CA must be CAs, the PCK must not".into());
        }
        if let Some((r, _)) = parsed.get(2) {
            if r.tbs_certificate.subject_public_key_info
                != root.tbs_certificate.subject_public_key_info
            {
                return Err("the chain's root is not the trusted root".into());
            }
        }
        for (cert, what) in [(l, "PCK"), (c, "PCK CA"), (&root, "root")] {
            if !sx::valid_at(cert, now) {
                return Err(format!(
                    "{what} valid {}, not at {}",
                    window(cert),
                    sim_core::time::to_rfc3339(now)
                ));
            }
        }
        leaf = Some(l.clone());
        ca = Some(c.clone());
        Ok(format!(
            "{lcn} ← {ccn} ← {CN_ROOT}, valid at {}",
            sim_core::time::to_rfc3339(now)
        ))
    })();
    match res {
        Ok(d) => v.pass("TDX-PCK-CHAIN", d),
        Err(e) => v.fail("TDX-PCK-CHAIN", e),
    }
    let (Some(leaf), Some(ca)) = (leaf, ca) else {
        v.finish();
        return Ok(v);
    };
    // 5. QE report signature by the PCK key.
    let qe_off = sig_off + 134;
    v.check(
        "TDX-QE-REPORT-SIGNATURE",
        key_of(&leaf).is_some_and(|k| {
            raw_sig_ok(&k, q.cert.qe_report.as_bytes(), &q.cert.qe_report_signature)
        }),
        format!(
            "PCK signature at 0x{:x} over the QE report at 0x{qe_off:x}",
            qe_off + 384
        ),
    );
    // 6. SGX extension.
    let ext = sx::find_ext(&leaf, &SGX_EXT_OID)
        .and_then(|e| parse_sgx_extension(e.extn_value.as_bytes()));
    let Some(ext) = ext else {
        v.fail(
            "TDX-PCK-SGX-EXTENSION",
            "PCK has no well-formed SGX extension (1.2.840.113741.1.13.1)",
        );
        v.finish();
        return Ok(v);
    };
    v.pass(
        "TDX-PCK-SGX-EXTENSION",
        format!(
            "FMSPC {}, PCESVN {}, CPUSVN {}",
            hex::encode_upper(ext.fmspc),
            ext.pcesvn,
            hex::encode(ext.cpusvn)
        ),
    );
    v.claim("fmspc", hex::encode_upper(ext.fmspc));
    v.claim("ppid", ext.ppid.clone());
    if let Some(c) = collateral {
        verify_collateral(&mut v, &q, c, &root, &ca, &leaf, &ext, now, policy);
    } else if policy.allowed_status.is_some() {
        v.fail(
            "TDX-POLICY-TCB-STATUS",
            "a TCB-status policy needs collateral",
        );
    }
    apply_policy(&mut v, &q, policy);
    v.finish();
    Ok(v)
}

#[allow(clippy::too_many_arguments)]
fn verify_collateral(
    v: &mut Verdict,
    q: &Quote,
    c: &Collateral,
    root: &Certificate,
    ca: &Certificate,
    leaf: &Certificate,
    ext: &PckExtension,
    now: i64,
    policy: &Policy,
) {
    let root_crl = match parse_crl(&c.root_ca_crl) {
        Ok(crl) => {
            match crl.check(root, now, "root") {
                Ok(d) if crl.revokes(ca) => {
                    v.fail("TDX-CRL-ROOT", format!("{d}; revokes the PCK CA"))
                }
                Ok(d) => v.pass("TDX-CRL-ROOT", format!("{d}; PCK CA not revoked")),
                Err(e) => v.fail("TDX-CRL-ROOT", e),
            }
            Some(crl)
        }
        Err(e) => {
            v.fail("TDX-CRL-ROOT", format!("root_ca_crl: {e}"));
            None
        }
    };
    match parse_crl(&c.pck_crl) {
        Ok(crl) => match crl.check(ca, now, "PCK") {
            Ok(d) if crl.revokes(leaf) => {
                v.fail("TDX-CRL-PCK", format!("{d}; revokes the PCK certificate"))
            }
            Ok(d) => v.pass("TDX-CRL-PCK", format!("{d}; PCK not revoked")),
            Err(e) => v.fail("TDX-CRL-PCK", e),
        },
        Err(e) => v.fail("TDX-CRL-PCK", format!("pck_crl: {e}")),
    }
    // TCB info.
    let tcb_key = signer(
        v,
        "TDX-TCB-INFO-SIGNER",
        &c.tcb_info_issuer_chain,
        root,
        root_crl.as_ref(),
        now,
    );
    let sig_ok = |key: &Option<VerifyingKey>, msg: &str, sig: &str| {
        key.as_ref().is_some_and(|k| {
            hex::decode(sig.trim()).is_ok_and(|s| raw_sig_ok(k, msg.as_bytes(), &s))
        })
    };
    v.check(
        "TDX-TCB-INFO-SIGNATURE",
        sig_ok(&tcb_key, &c.tcb_info, &c.tcb_info_signature),
        "ECDSA-P256-SHA256 by the TCB Signing key over the raw tcbInfo bytes",
    );
    let info: Option<TcbInfo> = match serde_json::from_str(&c.tcb_info) {
        Ok(i) => Some(i),
        Err(e) => {
            v.fail("TDX-TCB-INFO-FORMAT", format!("tcb_info: {e}"));
            None
        }
    };
    let qe_key = signer(
        v,
        "TDX-QE-IDENTITY-SIGNER",
        &c.qe_identity_issuer_chain,
        root,
        root_crl.as_ref(),
        now,
    );
    v.check(
        "TDX-QE-IDENTITY-SIGNATURE",
        sig_ok(&qe_key, &c.qe_identity, &c.qe_identity_signature),
        "ECDSA-P256-SHA256 by the TCB Signing key over the raw enclaveIdentity bytes",
    );
    let qe_id: Option<QeIdentity> = match serde_json::from_str(&c.qe_identity) {
        Ok(i) => Some(i),
        Err(e) => {
            v.fail("TDX-QE-IDENTITY-FORMAT", format!("qe_identity: {e}"));
            None
        }
    };
    let (Some(info), Some(qe_id)) = (info, qe_id) else {
        return;
    };
    match time_ok(&info.issue_date, &info.next_update, now) {
        Ok(d) => v.pass("TDX-TCB-INFO-VALIDITY", d),
        Err(e) => v.fail("TDX-TCB-INFO-VALIDITY", e),
    }
    v.check(
        "TDX-TCB-INFO-ID",
        info.id == "TDX" && info.version >= 3,
        format!("id {:?} version {} (TDX, ≥ 3)", info.id, info.version),
    );
    let fm_ok = hex_arr::<6>(&info.fmspc) == Some(ext.fmspc);
    v.check(
        "TDX-TCB-INFO-FMSPC",
        fm_ok,
        format!(
            "tcbInfo fmspc {} vs PCK {}",
            info.fmspc,
            hex::encode_upper(ext.fmspc)
        ),
    );
    match time_ok(&qe_id.issue_date, &qe_id.next_update, now) {
        Ok(d) => v.pass("TDX-QE-IDENTITY-VALIDITY", d),
        Err(e) => v.fail("TDX-QE-IDENTITY-VALIDITY", e),
    }
    // QE identity.
    let r = &q.cert.qe_report;
    let qe_res = (|| {
        if qe_id.id != "TD_QE" || !(qe_id.version == 2 || qe_id.version == 3) {
            return Err(format!(
                "identity {:?} v{} is not TD_QE v2/3",
                qe_id.id, qe_id.version
            ));
        }
        if hex_arr::<32>(&qe_id.mrsigner) != Some(r.mrsigner) {
            return Err(format!(
                "QE MRSIGNER {} ≠ {}",
                hex::encode_upper(r.mrsigner),
                qe_id.mrsigner
            ));
        }
        if qe_id.isvprodid != r.isvprodid.get() {
            return Err(format!(
                "QE ISVPRODID {} ≠ {}",
                r.isvprodid.get(),
                qe_id.isvprodid
            ));
        }
        let ms = hex_arr::<4>(&qe_id.miscselect).ok_or("miscselect not 4 bytes hex")?;
        let mm = hex_arr::<4>(&qe_id.miscselect_mask).ok_or("miscselectMask not 4 bytes hex")?;
        let rm = r.miscselect.get().to_le_bytes();
        if rm.iter().zip(mm).zip(ms).any(|((a, m), e)| a & m != e) {
            return Err("QE MISCSELECT does not match under the mask".into());
        }
        let at = hex_arr::<16>(&qe_id.attributes).ok_or("attributes not 16 bytes hex")?;
        let am = hex_arr::<16>(&qe_id.attributes_mask).ok_or("attributesMask not 16 bytes hex")?;
        if r.attributes
            .iter()
            .zip(am)
            .zip(at)
            .any(|((a, m), e)| a & m != e)
        {
            return Err("QE ATTRIBUTES do not match under the mask".into());
        }
        Ok(format!(
            "TD_QE MRSIGNER, ISVPRODID {}, MISCSELECT and ATTRIBUTES match",
            qe_id.isvprodid
        ))
    })();
    match qe_res {
        Ok(d) => v.pass("TDX-QE-IDENTITY", d),
        Err(e) => v.fail("TDX-QE-IDENTITY", e),
    }
    // TDX module identity.
    let b = q.body.base();
    let mod_res = (|| {
        let (signer, attrs, mask) = if b.tee_tcb_svn[1] != 0 {
            let want = format!("TDX_{:02X}", b.tee_tcb_svn[1]);
            let m = info
                .tdx_module_identities
                .iter()
                .find(|m| m.id.eq_ignore_ascii_case(&want))
                .ok_or_else(|| format!("no module identity {want}"))?;
            (
                m.mrsigner.clone(),
                m.attributes.clone(),
                m.attributes_mask.clone(),
            )
        } else {
            let m = info.tdx_module.as_ref().ok_or("tcbInfo has no tdxModule")?;
            (
                m.mrsigner.clone(),
                m.attributes.clone(),
                m.attributes_mask.clone(),
            )
        };
        if hex_arr::<48>(&signer) != Some(b.mrsignerseam) {
            return Err(format!(
                "MRSIGNERSEAM {} ≠ {signer}",
                hex::encode_upper(b.mrsignerseam)
            ));
        }
        let e = hex_arr::<8>(&attrs).ok_or("module attributes not 8 bytes hex")?;
        let m = hex_arr::<8>(&mask).ok_or("module attributesMask not 8 bytes hex")?;
        let a = b.seam_attributes.as_bytes();
        if a.iter()
            .zip(m)
            .zip(e)
            .any(|((a, m), e)| (a & m) != (e & m) || a & !m != 0)
        {
            return Err("SEAMATTRIBUTES do not match the module identity".into());
        }
        Ok(format!(
            "MRSIGNERSEAM and SEAMATTRIBUTES match (TEE_TCB_SVN[1] = {})",
            b.tee_tcb_svn[1]
        ))
    })();
    match mod_res {
        Ok(d) => v.pass("TDX-TCB-MODULE-IDENTITY", d),
        Err(e) => v.fail("TDX-TCB-MODULE-IDENTITY", e),
    }
    if !fm_ok {
        return;
    }
    match evaluate_tcb(&info, &qe_id, ext, &q.body, r) {
        Ok(e) => {
            v.claim("tcb_status", e.status.as_str());
            v.claim("platform_tcb_status", e.platform.as_str());
            v.claim("qe_tcb_status", e.qe.as_str());
            v.claim("advisory_ids", e.advisory_ids.clone());
            v.check(
                "TDX-TCB-STATUS",
                e.status != TcbStatus::Revoked,
                format!(
                    "{} (platform {}, QE {}{}){}",
                    e.status,
                    e.platform,
                    e.qe,
                    e.current
                        .map(|c| format!(", current {c}"))
                        .unwrap_or_default(),
                    if e.advisory_ids.is_empty() {
                        String::new()
                    } else {
                        format!(" advisories {}", e.advisory_ids.join(","))
                    }
                ),
            );
            if let Some(allowed) = &policy.allowed_status {
                v.check(
                    "TDX-POLICY-TCB-STATUS",
                    allowed.contains(&e.status),
                    format!(
                        "{} in {:?}",
                        e.status,
                        allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>()
                    ),
                );
            }
        }
        Err(e) => v.fail("TDX-TCB-STATUS", e),
    }
}

fn apply_policy(v: &mut Verdict, q: &Quote, p: &Policy) {
    let b = q.body.base();
    let attrs = b.td_attributes.get();
    if p.deny_debug {
        v.check(
            "TDX-POLICY-DEBUG",
            attrs & attributes::DEBUG == 0,
            format!("TDATTRIBUTES 0x{attrs:016x}: DEBUG must be clear"),
        );
    }
    if p.require_sept_ve_disable {
        v.check(
            "TDX-POLICY-SEPT-VE-DISABLE",
            attrs & attributes::SEPT_VE_DISABLE != 0,
            format!("TDATTRIBUTES 0x{attrs:016x}: SEPT_VE_DISABLE (bit 28) must be set"),
        );
    }
    if let Some(m) = p.mrtd {
        v.check(
            "TDX-POLICY-MRTD",
            b.mrtd == m,
            format!("MRTD {}", hex::encode(b.mrtd)),
        );
    }
    for (i, want) in p.rtmr.iter().enumerate() {
        if let (Some(w), Some(have)) = (want, b.rtmr.get(i)) {
            v.check(
                format!("TDX-POLICY-RTMR{i}"),
                have == w,
                format!("RTMR{i} {}", hex::encode(have)),
            );
        }
    }
    if let Some(rd) = p.report_data {
        v.check(
            "TDX-POLICY-REPORT-DATA",
            b.report_data == rd,
            format!("REPORTDATA {}", hex::encode(b.report_data)),
        );
    }
}

fn claims(v: &mut Verdict, q: &Quote) {
    let b = q.body.base();
    v.claim("quote_version", q.version());
    v.claim("body_type", q.body.body_type());
    v.claim("tee_tcb_svn", hex::encode(b.tee_tcb_svn));
    v.claim("mrseam", hex::encode(b.mrseam));
    v.claim("td_attributes", hex::encode(b.td_attributes.as_bytes()));
    v.claim("xfam", hex::encode(b.xfam.as_bytes()));
    v.claim("mrtd", hex::encode(b.mrtd));
    v.claim("mrconfigid", hex::encode(b.mrconfigid));
    v.claim("mrowner", hex::encode(b.mrowner));
    v.claim("mrownerconfig", hex::encode(b.mrownerconfig));
    v.claim("rtmr", b.rtmr.iter().map(hex::encode).collect::<Vec<_>>());
    v.claim("report_data", hex::encode(b.report_data));
    if let Some(t) = q.body.td15() {
        v.claim("tee_tcb_svn2", hex::encode(t.tee_tcb_svn2));
        v.claim("mrservicetd", hex::encode(t.mrservicetd));
    }
}

/// DER re-encoding helper for callers that need the leaf (e.g. `openssl verify` tests).
pub fn pck_chain_der(q: &Quote) -> Vec<Vec<u8>> {
    sx::pem_certs(&q.pck_chain_pem())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| Certificate::from_der(d).and_then(|c| c.to_der()).is_ok())
        .collect()
}
