//! SNP_GUEST_REQUEST: the encrypted guest-message protocol, MSG_REPORT_REQ and MSG_KEY_REQ, and the
//! extended request's certificate table (SEV-SNP ABI 56860 §8.26, §7.2-§7.3; GHCB 56421 §4.1.8;
//! snp.md §5, §2.4).
//!
//! Framing: AES-256-GCM under `VMPCK[MSG_VMPCK]`, IV = MSG_SEQNO (u64 LE) ‖ 4 zero bytes, AAD = header
//! bytes 0x30..0x60, tag in AUTHTAG[0..16]. The firmware keeps a count per VMPCK: a request must carry
//! `count + 1` (else AEAD_OFLOW), the response carries `request + 1`, and the count then grows by 2.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zerocopy::{FromBytes, IntoBytes};

use super::launch::{Guest, GuestState};
use super::platform::Platform;
use super::status::FwStatus;
use crate::keys;
use crate::layout::cert_table::{self, CertTableEntry};
use crate::layout::guest_msg::{
    msg_type, GuestMsgHeader, KeyReq, KeyRsp, ReportReq, ReportRsp, HEADER_SIZE,
};
use crate::layout::policy::SigningKey;
use crate::layout::report::{AttestationReportRaw, SIGNED_LEN};
use crate::layout::KeyInfo;
use crate::report::ReportVersion;

/// Largest message: one 4 KiB page.
pub const MAX_MESSAGE: usize = 4096;

fn gcm(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

fn iv(seqno: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&seqno.to_le_bytes());
    iv
}

/// Seals `payload` into a message with `header` fields (AUTHTAG and MSG_SIZE are filled in).
pub fn seal(key: &[u8; 32], mut header: GuestMsgHeader, payload: &[u8]) -> Vec<u8> {
    header
        .msg_size
        .set(u16::try_from(payload.len()).unwrap_or(u16::MAX));
    header.authtag = [0; 32];
    let mut body = payload.to_vec();
    let aad = header.as_bytes()[0x30..HEADER_SIZE].to_vec();
    let tag = gcm(key)
        .encrypt_in_place_detached(&Nonce::from(iv(header.msg_seqno.get())), &aad, &mut body)
        .expect("AES-GCM encrypts any payload below 2^36 bytes");
    header.authtag[..16].copy_from_slice(&tag);
    let mut out = header.as_bytes().to_vec();
    out.extend(body);
    out
}

/// Opens a message: parses and checks the header, then decrypts and authenticates the payload.
pub fn open(key: &[u8; 32], msg: &[u8]) -> Result<(GuestMsgHeader, Vec<u8>), FwStatus> {
    let (header, rest) = GuestMsgHeader::read_from_prefix(msg)
        .map_err(|_| FwStatus::INVALID_PARAM("message shorter than its header"))?;
    let size = usize::from(header.msg_size.get());
    let ct = rest
        .get(..size)
        .ok_or(FwStatus::INVALID_PARAM("MSG_SIZE beyond the message"))?;
    let mut body = ct.to_vec();
    let mut tag_bytes = [0u8; 16];
    tag_bytes.copy_from_slice(&header.authtag[..16]);
    let tag = Tag::from(tag_bytes);
    gcm(key)
        .decrypt_in_place_detached(
            &Nonce::from(iv(header.msg_seqno.get())),
            &header.as_bytes()[0x30..HEADER_SIZE],
            &mut body,
            &tag,
        )
        .map_err(|_| FwStatus::INVALID_PARAM("payload does not authenticate"))?;
    Ok((header, body))
}

fn check_header(h: &GuestMsgHeader, msg_len: usize) -> Result<(), FwStatus> {
    if h.hdr_version != 1 || h.hdr_size.get() != 0x60 || h.algo != 1 {
        return Err(FwStatus::INVALID_PARAM("HDR_VERSION, HDR_SIZE or ALGO"));
    }
    let size = usize::from(h.msg_size.get());
    if size == 0 || size % 16 != 0 {
        return Err(FwStatus::INVALID_PARAM(
            "MSG_SIZE must be non-zero and a multiple of 16",
        ));
    }
    if HEADER_SIZE + size > MAX_MESSAGE || HEADER_SIZE + size > msg_len {
        return Err(FwStatus::INVALID_PARAM("message crosses its page"));
    }
    if h.msg_vmpck > 3 {
        return Err(FwStatus::INVALID_PARAM("MSG_VMPCK above 3"));
    }
    Ok(())
}

/// The host's extended-request answer when the certificate buffer is too small (GHCB INVALID_LEN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtRequestError {
    /// The firmware refused the request.
    #[error("firmware: {0}")]
    Firmware(FwStatus),
    /// SW_EXITINFO2 upper dword 1 (INVALID_LEN); RBX = the pages needed.
    #[error("INVALID_LEN: certificate buffer needs {pages_needed} pages")]
    InvalidLen {
        /// Pages needed.
        pages_needed: usize,
    },
}

impl Platform {
    /// SNP_GUEST_REQUEST: the firmware's side. Returns the sealed response message.
    pub fn guest_request(&self, guest: &mut Guest, request: &[u8]) -> Result<Vec<u8>, FwStatus> {
        if guest.state != GuestState::Running {
            return Err(FwStatus::INVALID_GUEST_STATE);
        }
        let (h, _) = GuestMsgHeader::read_from_prefix(request)
            .map_err(|_| FwStatus::INVALID_PARAM("message shorter than its header"))?;
        check_header(&h, request.len())?;
        let vmpck = usize::from(h.msg_vmpck);
        let count = guest.msg_count[vmpck];
        if count >= u64::MAX - 2 || h.msg_seqno.get() != count + 1 {
            return Err(FwStatus::AEAD_OFLOW);
        }
        let key = guest.vmpck[vmpck];
        let (h, payload) = open(&key, request)?;
        let rsp_payload: Vec<u8> = match h.msg_type {
            msg_type::REPORT_REQ => self.report_response(guest, vmpck, &payload)?,
            msg_type::KEY_REQ => self.key_response(guest, vmpck, &payload)?,
            _ => return Err(FwStatus::INVALID_PARAM("unsupported MSG_TYPE")),
        };
        guest.msg_count[vmpck] = count + 2;
        let mut rh = h;
        rh.msg_seqno.set(count + 2);
        rh.msg_type = h.msg_type + 1;
        Ok(seal(&key, rh, &rsp_payload))
    }

    /// SNP_EXTENDED_GUEST_REQUEST: the guest request plus the host's certificate table, or INVALID_LEN
    /// with the page count when `cert_pages` is too small.
    pub fn ext_guest_request(
        &self,
        guest: &mut Guest,
        request: &[u8],
        certs: &[u8],
        cert_pages: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), ExtRequestError> {
        let pages_needed = certs.len().div_ceil(4096);
        if cert_pages < pages_needed {
            return Err(ExtRequestError::InvalidLen { pages_needed });
        }
        let rsp = self
            .guest_request(guest, request)
            .map_err(ExtRequestError::Firmware)?;
        let mut buf = certs.to_vec();
        buf.resize(cert_pages * 4096, 0);
        Ok((rsp, buf))
    }

    fn report_response(
        &self,
        guest: &Guest,
        vmpck: usize,
        payload: &[u8],
    ) -> Result<Vec<u8>, FwStatus> {
        let req = ReportReq::read_from_bytes(payload)
            .map_err(|_| FwStatus::INVALID_PARAM("MSG_REPORT_REQ is not 0x60 bytes"))?;
        let mut rsp = ReportRsp::new_zeroed_rsp();
        match self.build_report(guest, vmpck, &req) {
            Ok(report) => {
                rsp.report_size.set(0x4A0);
                rsp.report = report;
            }
            Err(e @ (FwStatus::INVALID_PARAM(_) | FwStatus::INVALID_KEY(_))) => {
                rsp.status.set(e.code())
            }
            Err(e) => return Err(e),
        }
        Ok(rsp.as_bytes().to_vec())
    }

    /// Builds and signs the report for a MSG_REPORT_REQ (status errors are returned in the response).
    pub fn build_report(
        &self,
        guest: &Guest,
        vmpck: usize,
        req: &ReportReq,
    ) -> Result<AttestationReportRaw, FwStatus> {
        let vmpl = req.vmpl.get();
        if vmpl > 3 || (vmpl as usize) < vmpck {
            return Err(FwStatus::INVALID_PARAM(
                "VMPL must be 0-3 and at least the VMPCK index",
            ));
        }
        if req._rsvd_0x48 != [0; 24] || req.key_sel.get() & !3 != 0 {
            return Err(FwStatus::INVALID_PARAM("reserved bytes of MSG_REPORT_REQ"));
        }
        let vcek_allowed = !self.config.mask_chip_key && !guest.vcek_disabled;
        let vlek_loaded = self.config.vlek.is_some();
        let signer = match req.key_sel.get() {
            0 if vlek_loaded => SigningKey::Vlek,
            0 if vcek_allowed => SigningKey::Vcek,
            0 => SigningKey::None,
            1 if vcek_allowed => SigningKey::Vcek,
            1 => {
                return Err(FwStatus::INVALID_KEY(
                    "KEY_SEL 1 but the VCEK is masked or disabled",
                ))
            }
            2 if vlek_loaded => SigningKey::Vlek,
            2 => return Err(FwStatus::INVALID_KEY("KEY_SEL 2 but no VLEK is loaded")),
            _ => return Err(FwStatus::INVALID_KEY("KEY_SEL 3 is reserved")),
        };
        let product = self.product();
        let layout = product.tcb_layout();
        let reported = self.reported_tcb();
        let v = self.config.report_version;
        let mut r = AttestationReportRaw::zeroed();
        r.version.set(v.number());
        r.guest_svn.set(guest.guest_svn);
        r.policy.set(guest.policy.0);
        r.family_id = guest.family_id;
        r.image_id = guest.image_id;
        r.vmpl.set(vmpl);
        r.signature_algo.set(1);
        r.current_tcb.set(self.committed_tcb().to_u64(layout));
        r.platform_info.set(self.config.platform_info.0);
        r.key_info
            .set(KeyInfo::new(guest.author_key_en, self.config.mask_chip_key, signer).0);
        r.report_data = req.report_data;
        r.measurement = guest.ld;
        r.host_data = guest.host_data;
        r.id_key_digest = guest.id_key_digest;
        r.author_key_digest = guest.author_key_digest;
        r.report_id = guest.report_id;
        r.report_id_ma = guest.report_id_ma;
        r.reported_tcb.set(reported.to_u64(layout));
        if v >= ReportVersion::V3 {
            let (f, m, s) = product.cpuid_fms();
            r.cpuid_fam_id = f;
            r.cpuid_mod_id = m;
            r.cpuid_step = s;
        }
        r.chip_id = self.reported_chip_id();
        r.committed_tcb.set(self.committed_tcb().to_u64(layout));
        let (major, minor, build) = self.config.firmware;
        (r.current_major, r.current_minor, r.current_build) = (major, minor, build);
        (r.committed_major, r.committed_minor, r.committed_build) = (major, minor, build);
        r.launch_tcb.set(guest.launch_tcb.to_u64(layout));
        if v == ReportVersion::V5 {
            r.launch_mit_vector.set(guest.launch_mit_vector);
            r.current_mit_vector.set(self.config.mit_vector);
        }
        let key = match signer {
            SigningKey::Vcek => Some(
                self.vcek(&reported)
                    .map_err(|_| FwStatus::INVALID_KEY("reported TCB not derivable"))?,
            ),
            SigningKey::Vlek => self.vlek(&reported),
            _ => None,
        };
        if let Some(k) = key {
            r.signature = keys::sign_amd(&k, &r.as_bytes()[..SIGNED_LEN]);
        }
        Ok(r)
    }

    fn key_response(
        &self,
        guest: &Guest,
        vmpck: usize,
        payload: &[u8],
    ) -> Result<Vec<u8>, FwStatus> {
        let req = KeyReq::read_from_bytes(payload)
            .map_err(|_| FwStatus::INVALID_PARAM("MSG_KEY_REQ is not 0x40 bytes"))?;
        let mut rsp =
            KeyRsp::read_from_bytes(&[0u8; 0x40][..]).map_err(|_| FwStatus::INVALID_LENGTH)?;
        match self.derive_key(guest, vmpck, &req) {
            Ok(k) => rsp.derived_key = k,
            Err(
                e @ (FwStatus::INVALID_PARAM(_) | FwStatus::INVALID_KEY(_) | FwStatus::BAD_SVN),
            ) => rsp.status.set(e.code()),
            Err(e) => return Err(e),
        }
        Ok(rsp.as_bytes().to_vec())
    }

    /// MSG_KEY_REQ: `NIST_KDF(HMAC-SHA-256; K = vcek_hash(TCB) | VLEK seed | VMRK; "gmsg-keyreq";
    /// MIX_DATA)` (snp.md §5.3; AMD-ASPFW `snp_gmsg_key_req`).
    pub fn derive_key(
        &self,
        guest: &Guest,
        vmpck: usize,
        req: &KeyReq,
    ) -> Result<[u8; 32], FwStatus> {
        let sel = req.key_select.get();
        if sel & !7 != 0 || req._rsvd_0x04.get() != 0 || req._rsvd_0x28 != [0; 24] {
            return Err(FwStatus::INVALID_PARAM("reserved bits of MSG_KEY_REQ"));
        }
        let gfs = req.guest_field_select.get();
        if gfs & !0x7f != 0 {
            return Err(FwStatus::INVALID_PARAM("GUEST_FIELD_SELECT reserved bits"));
        }
        let vmpl = req.vmpl.get();
        if vmpl > 3 || (vmpl as usize) < vmpck {
            return Err(FwStatus::INVALID_PARAM(
                "VMPL must be 0-3 and at least the VMPCK index",
            ));
        }
        let layout = self.product().tcb_layout();
        let tcb_bytes = req.tcb_version.get().to_le_bytes();
        let tcb = crate::layout::TcbVersion::from_bytes(tcb_bytes, layout);
        let tcb_invalid = crate::layout::TcbVersion::check_reserved(tcb_bytes, layout).is_err()
            || !tcb.le(&self.committed_tcb());
        if gfs & (1 << 5) != 0 && tcb_invalid {
            return Err(FwStatus::INVALID_PARAM("TCB_VERSION above COMMITTED_TCB"));
        }
        if gfs & (1 << 4) != 0 && req.guest_svn.get() > guest.guest_svn {
            return Err(FwStatus::INVALID_PARAM("GUEST_SVN above the ID block's"));
        }
        let root_vmrk = sel & 1 != 0;
        let key_sel = (sel >> 1) & 3;
        let root: Vec<u8> = if root_vmrk {
            guest.vmrk.to_vec()
        } else {
            let vcek_allowed = !self.config.mask_chip_key && !guest.vcek_disabled;
            let vek_tcb = if gfs & (1 << 5) != 0 {
                tcb
            } else {
                self.committed_tcb()
            };
            let use_vlek = match key_sel {
                0 => self.config.vlek.is_some(),
                1 => false,
                2 => true,
                _ => return Err(FwStatus::INVALID_KEY("KEY_SEL 3 is reserved")),
            };
            if use_vlek {
                let v = self
                    .config
                    .vlek
                    .as_ref()
                    .ok_or(FwStatus::INVALID_KEY("no VLEK loaded"))?;
                self.vlek_seed(&v.csp_id, &vek_tcb).to_vec()
            } else {
                if !vcek_allowed {
                    return Err(FwStatus::INVALID_KEY("the VCEK is masked or disabled"));
                }
                self.vcek_hash(&vek_tcb)
                    .map_err(|_| FwStatus::INVALID_PARAM("TCB not derivable"))?
                    .to_vec()
            }
        };
        // MIX_DATA (packed, snp.md §5.3). This ABI revision's request has no IDBLOCK_KEY_SELECT (its bits
        // 2:1 are KEY_SEL), so IDBLOCK_KEY_SELECT is 0 and IDBLOCK_KEY is zero.
        let mut mix = Vec::with_capacity(0xE8);
        mix.extend(u32::from(root_vmrk).to_le_bytes());
        mix.extend(0u32.to_le_bytes());
        mix.extend(gfs.to_le_bytes());
        mix.extend(vmpl.to_le_bytes());
        let sel_or_zero = |bit: u32, bytes: &[u8]| -> Vec<u8> {
            if gfs & (1 << bit) != 0 {
                bytes.to_vec()
            } else {
                vec![0; bytes.len()]
            }
        };
        mix.extend(sel_or_zero(4, &req.guest_svn.get().to_le_bytes()));
        mix.extend(sel_or_zero(5, &req.tcb_version.get().to_le_bytes()));
        mix.extend(sel_or_zero(0, &guest.policy.0.to_le_bytes()));
        mix.extend(sel_or_zero(1, &guest.image_id));
        mix.extend(sel_or_zero(2, &guest.family_id));
        mix.extend(sel_or_zero(3, &guest.ld[..32]));
        mix.extend(guest.host_data);
        mix.extend([0u8; 32]);
        if gfs & (1 << 6) != 0 {
            mix.extend(req.launch_mit_vector.get().to_le_bytes());
        }
        let mut out = [0u8; 32];
        keys::nist_kdf(&root, b"gmsg-keyreq", &mix, &mut out);
        Ok(out)
    }

    /// The extended-report certificate table for `signer`: ARK, ASK (or ASVK), VCEK (or VLEK).
    pub fn cert_table(
        &self,
        signer: SigningKey,
        issued_at: i64,
    ) -> Result<Vec<u8>, sim_core::x509::X509Error> {
        let ca = crate::pki::vendor(self.product());
        let tcb = self.reported_tcb();
        let mut entries = vec![CertTableEntry {
            guid: cert_table::GUID_ARK,
            data: ca.ark.clone(),
        }];
        match signer {
            SigningKey::Vlek => {
                entries.push(CertTableEntry {
                    guid: cert_table::GUID_ASK,
                    data: ca.asvk.clone(),
                });
                if let Some(c) = self.vlek_cert(&tcb, issued_at) {
                    entries.push(CertTableEntry {
                        guid: cert_table::GUID_VLEK,
                        data: c?,
                    });
                }
            }
            _ => {
                entries.push(CertTableEntry {
                    guid: cert_table::GUID_ASK,
                    data: ca.ask.clone(),
                });
                entries.push(CertTableEntry {
                    guid: cert_table::GUID_VCEK,
                    data: self.vcek_cert(&tcb, issued_at)?,
                });
            }
        }
        Ok(cert_table::encode(&entries))
    }
}

impl ReportRsp {
    fn new_zeroed_rsp() -> ReportRsp {
        <ReportRsp as zerocopy::FromZeros>::new_zeroed()
    }
}

/// The guest kernel's side of the protocol (Linux `sev-guest`): it holds one VMPCK and its sequence
/// number, builds requests and opens responses.
#[derive(Clone, Debug)]
pub struct GuestDriver {
    /// VMPCK index.
    pub vmpck_id: u8,
    /// The VMPCK.
    pub vmpck: [u8; 32],
    /// Sequence number of the next request.
    pub seqno: u64,
}

/// A guest-side failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The firmware refused the request.
    #[error("firmware: {0}")]
    Firmware(FwStatus),
    /// The response does not authenticate or does not match the request.
    #[error("bad response: {0}")]
    BadResponse(&'static str),
    /// The response carried a non-zero STATUS.
    #[error("status 0x{0:x}")]
    Status(u32),
}

impl GuestDriver {
    /// A driver for VMPCK `id` read from the secrets page of `guest`.
    pub fn new(guest: &Guest, vmpck_id: u8) -> GuestDriver {
        GuestDriver {
            vmpck_id,
            vmpck: guest.vmpck[usize::from(vmpck_id & 3)],
            seqno: 1,
        }
    }

    /// Builds a request message of `msg_type` with `payload`.
    pub fn request(&self, msg_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = <GuestMsgHeader as zerocopy::FromZeros>::new_zeroed();
        h.msg_seqno.set(self.seqno);
        h.algo = 1;
        h.hdr_version = 1;
        h.hdr_size.set(0x60);
        h.msg_type = msg_type;
        h.msg_version = 1;
        h.msg_vmpck = self.vmpck_id;
        seal(&self.vmpck, h, payload)
    }

    /// Opens a response to the request just sent, checking type and sequence number.
    pub fn response(&mut self, msg_type: u8, rsp: &[u8]) -> Result<Vec<u8>, DriverError> {
        let (h, body) = open(&self.vmpck, rsp)
            .map_err(|_| DriverError::BadResponse("does not authenticate"))?;
        if h.msg_type != msg_type + 1 || h.msg_seqno.get() != self.seqno + 1 {
            return Err(DriverError::BadResponse("type or sequence number"));
        }
        self.seqno += 2;
        Ok(body)
    }

    /// MSG_REPORT_REQ round trip: returns the 1184-byte report.
    pub fn get_report(
        &mut self,
        platform: &Platform,
        guest: &mut Guest,
        report_data: [u8; 64],
        vmpl: u32,
        key_sel: u32,
    ) -> Result<Vec<u8>, DriverError> {
        let mut req = <ReportReq as zerocopy::FromZeros>::new_zeroed();
        req.report_data = report_data;
        req.vmpl.set(vmpl);
        req.key_sel.set(key_sel);
        let msg = self.request(msg_type::REPORT_REQ, req.as_bytes());
        let rsp = platform
            .guest_request(guest, &msg)
            .map_err(DriverError::Firmware)?;
        let body = self.response(msg_type::REPORT_REQ, &rsp)?;
        let r = ReportRsp::read_from_bytes(&body)
            .map_err(|_| DriverError::BadResponse("MSG_REPORT_RSP size"))?;
        if r.status.get() != 0 {
            return Err(DriverError::Status(r.status.get()));
        }
        Ok(r.report.as_bytes().to_vec())
    }

    /// MSG_KEY_REQ round trip: returns the derived key.
    pub fn get_derived_key(
        &mut self,
        platform: &Platform,
        guest: &mut Guest,
        req: &KeyReq,
    ) -> Result<[u8; 32], DriverError> {
        let msg = self.request(msg_type::KEY_REQ, req.as_bytes());
        let rsp = platform
            .guest_request(guest, &msg)
            .map_err(DriverError::Firmware)?;
        let body = self.response(msg_type::KEY_REQ, &rsp)?;
        let r = KeyRsp::read_from_bytes(&body)
            .map_err(|_| DriverError::BadResponse("MSG_KEY_RSP size"))?;
        if r.status.get() != 0 {
            return Err(DriverError::Status(r.status.get()));
        }
        Ok(r.derived_key)
    }
}
