//! The DCAP TD quote (v4 and v5) as a validated type: parsed by its length fields, encoded back byte
//! for byte. Layout: tdx.md §2 (DCAP `sgx_quote_4.h`/`sgx_quote_5.h`, dcap-qvl `quote.rs`).
//!
//! ```text
//! v4: header(48) ‖ body(584)                       ‖ sig_data_len u32 ‖ sig_data
//! v5: header(48) ‖ body_type u16 ‖ body_size u32 ‖ body ‖ sig_data_len u32 ‖ sig_data
//! sig_data = signature(64) ‖ attestation key(64) ‖ cert type 6 u16 ‖ size u32 ‖
//!            QE report(384) ‖ QE report signature(64) ‖ auth size u16 ‖ auth data ‖
//!            cert type 5 u16 ‖ size u32 ‖ PEM PCK chain
//! ```
//! Real quote files are often zero-padded after the signature data; the parser stops at the end given
//! by the length fields and keeps the trailing bytes.

use sim_core::parse::{ParseError, ParseErrorKind, Reader};
use zerocopy::{FromBytes, IntoBytes};

use crate::layout::quote::{ATT_KEY_TYPE_ECDSA_P256, TEE_TYPE_TDX};
use crate::layout::{EnclaveReport, QuoteHeader, TdReportBody10, TdReportBody15, TdReportBody15Ex};

/// Certification data type 5: PEM PCK certificate chain.
pub const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data type 6: QE report certification data.
pub const CERT_TYPE_QE_REPORT: u16 = 6;
/// Offset of the body in a v4 quote, and of `body_type` in a v5 quote.
pub const HEADER_LEN: usize = 48;

/// The TD report body of a quote, by v5 body type (a v4 quote always has a TD 1.0 body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TdBody {
    /// Type 2: TD report 1.0 (584 bytes).
    Td10(TdReportBody10),
    /// Type 3: TD report 1.5 (648 bytes).
    Td15(TdReportBody15),
    /// Type 4: TD report 1.5 "ex" (885 bytes).
    Td15Ex(Box<TdReportBody15Ex>),
}

impl TdBody {
    /// The v5 body type (2, 3 or 4).
    pub fn body_type(&self) -> u16 {
        match self {
            TdBody::Td10(_) => 2,
            TdBody::Td15(_) => 3,
            TdBody::Td15Ex(_) => 4,
        }
    }

    /// The TD 1.0 fields every body has.
    pub fn base(&self) -> &TdReportBody10 {
        match self {
            TdBody::Td10(b) => b,
            TdBody::Td15(b) => &b.base,
            TdBody::Td15Ex(b) => &b.base.base,
        }
    }

    /// The TD 1.5 fields, for body types 3 and 4.
    pub fn td15(&self) -> Option<&TdReportBody15> {
        match self {
            TdBody::Td10(_) => None,
            TdBody::Td15(b) => Some(b),
            TdBody::Td15Ex(b) => Some(&b.base),
        }
    }

    /// The body's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            TdBody::Td10(b) => b.as_bytes(),
            TdBody::Td15(b) => b.as_bytes(),
            TdBody::Td15Ex(b) => b.as_bytes(),
        }
    }

    /// Length of a body of `body_type`, if the type is a TD report.
    pub fn size_of_type(body_type: u16) -> Option<usize> {
        match body_type {
            2 => Some(584),
            3 => Some(648),
            4 => Some(885),
            _ => None,
        }
    }
}

/// QE report certification data (type 6) with its PCK chain (inner type 5), tdx.md §2.3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QeCertData {
    /// The QE's SGX report.
    pub qe_report: EnclaveReport,
    /// ECDSA-P256-SHA256 signature (r ‖ s) of the QE report by the PCK key.
    pub qe_report_signature: [u8; 64],
    /// QE authentication data.
    pub qe_auth_data: Vec<u8>,
    /// Inner certification data type (5 = PEM PCK chain).
    pub inner_type: u16,
    /// The inner certification data: PEM leaf ‖ PCK CA ‖ root, often NUL-terminated.
    pub pck_chain: Vec<u8>,
}

/// A TD quote v4 or v5.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    /// The 48-byte header.
    pub header: QuoteHeader,
    /// The TD report body.
    pub body: TdBody,
    /// ECDSA-P256-SHA256 signature (r ‖ s, big-endian) over header ‖ (v5 type ‖ size ‖) body.
    pub signature: [u8; 64],
    /// Attestation public key X ‖ Y (big-endian, no 0x04 prefix).
    pub attestation_key: [u8; 64],
    /// Certification data (type 6).
    pub cert: QeCertData,
    /// Bytes after the signature data: usually zero padding, but not always (go-tdx-guest's SPR_E4
    /// sample ends with a text line). Kept so that encode(parse(b)) == b.
    pub trailing: Vec<u8>,
}

impl Quote {
    /// The quote version (4 or 5).
    pub fn version(&self) -> u16 {
        self.header.version.get()
    }

    /// Length of the signed prefix: 632 for v4, 54 + body size for v5 (tdx.md §2.4).
    pub fn signed_len(&self) -> usize {
        if self.version() == 4 {
            HEADER_LEN + 584
        } else {
            HEADER_LEN + 6 + self.body.as_bytes().len()
        }
    }

    /// Offset of the signature data (after `signature_data_len`).
    pub fn sig_data_offset(&self) -> usize {
        self.signed_len() + 4
    }

    /// The PCK chain as text, without a trailing NUL.
    pub fn pck_chain_pem(&self) -> String {
        let end = self
            .cert
            .pck_chain
            .iter()
            .rposition(|b| *b != 0)
            .map_or(0, |i| i + 1);
        String::from_utf8_lossy(self.cert.pck_chain.get(..end).unwrap_or(&[])).into_owned()
    }

    /// Parses a quote by its length fields; bytes after the signature data are kept as `trailing`.
    pub fn parse(bytes: &[u8]) -> Result<Quote, ParseError> {
        let mut r = Reader::new(bytes);
        let hb = r.take("QUOTE_HEADER", HEADER_LEN)?;
        let header = QuoteHeader::read_from_bytes(hb)
            .map_err(|_| ParseError::truncated("QUOTE_HEADER", 0, HEADER_LEN, hb.len()))?;
        let version = header.version.get();
        if version != 4 && version != 5 {
            return Err(ParseError::invalid(
                "version",
                0,
                version,
                "a TD quote is version 4 or 5",
            ));
        }
        if header.att_key_type.get() != ATT_KEY_TYPE_ECDSA_P256 {
            return Err(ParseError::invalid(
                "att_key_type",
                2,
                header.att_key_type.get(),
                "only 2 (ECDSA-256-with-P-256) is used by TD quotes",
            ));
        }
        if header.tee_type.get() != TEE_TYPE_TDX {
            return Err(ParseError::invalid(
                "tee_type",
                4,
                format!("0x{:x}", header.tee_type.get()),
                "a TD quote has tee_type 0x81",
            ));
        }
        let body = if version == 4 {
            let b = r.take("TD_REPORT_BODY", 584)?;
            TdBody::Td10(
                TdReportBody10::read_from_bytes(b)
                    .map_err(|_| ParseError::truncated("TD_REPORT_BODY", HEADER_LEN, 584, 0))?,
            )
        } else {
            let type_off = r.offset();
            let body_type = r.u16_le("body_type")?;
            let size_off = r.offset();
            let body_size = r.u32_le("body_size")?;
            let want = TdBody::size_of_type(body_type).ok_or_else(|| {
                ParseError::invalid(
                    "body_type",
                    type_off,
                    body_type,
                    "a TD quote v5 body is type 2, 3 or 4",
                )
            })?;
            if usize::try_from(body_size).ok() != Some(want) {
                return Err(ParseError::new(
                    "body_size",
                    size_off,
                    ParseErrorKind::BadLength {
                        value: u64::from(body_size),
                        rule: "body_size must equal the length of the body type (584/648/885)",
                    },
                ));
            }
            let off = r.offset();
            let b = r.take("TD_REPORT_BODY", want)?;
            let err = ParseError::truncated("TD_REPORT_BODY", off, want, 0);
            match body_type {
                2 => TdBody::Td10(TdReportBody10::read_from_bytes(b).map_err(|_| err)?),
                3 => TdBody::Td15(TdReportBody15::read_from_bytes(b).map_err(|_| err)?),
                _ => TdBody::Td15Ex(Box::new(
                    TdReportBody15Ex::read_from_bytes(b).map_err(|_| err)?,
                )),
            }
        };
        let len_off = r.offset();
        let sig_len = usize::try_from(r.u32_le("signature_data_len")?).unwrap_or(usize::MAX);
        if sig_len < 134 {
            return Err(ParseError::new(
                "signature_data_len",
                len_off,
                ParseErrorKind::BadLength {
                    value: sig_len as u64,
                    rule: "signature data holds at least signature, key and certification header (134 bytes)",
                },
            ));
        }
        let sig_base = r.offset();
        let sig_bytes = r.take("signature_data", sig_len)?;
        let trailing = r.rest().to_vec();
        let mut s = Reader::with_base(sig_bytes, sig_base);
        let signature = s.array::<64>("quote_signature")?;
        let attestation_key = s.array::<64>("attestation_key")?;
        let ct_off = s.offset();
        let cert_type = s.u16_le("certification_data_type")?;
        if cert_type != CERT_TYPE_QE_REPORT {
            return Err(ParseError::invalid(
                "certification_data_type",
                ct_off,
                cert_type,
                "TD quotes carry certification data type 6 (QE report certification data)",
            ));
        }
        let cs_off = s.offset();
        let cert_size = usize::try_from(s.u32_le("certification_data_size")?).unwrap_or(usize::MAX);
        if cert_size != s.remaining() {
            return Err(ParseError::new(
                "certification_data_size",
                cs_off,
                ParseErrorKind::BadLength {
                    value: cert_size as u64,
                    rule: "certification data must end where signature_data_len ends",
                },
            ));
        }
        let qoff = s.offset();
        let qe_report = EnclaveReport::read_from_bytes(s.take("qe_report", 384)?)
            .map_err(|_| ParseError::truncated("qe_report", qoff, 384, 0))?;
        let qe_report_signature = s.array::<64>("qe_report_signature")?;
        let auth_len = usize::from(s.u16_le("qe_auth_data_size")?);
        let qe_auth_data = s.take("qe_auth_data", auth_len)?.to_vec();
        let it_off = s.offset();
        let inner_type = s.u16_le("pck_cert_chain_type")?;
        if inner_type != CERT_TYPE_PCK_CHAIN {
            return Err(ParseError::invalid(
                "pck_cert_chain_type",
                it_off,
                inner_type,
                "the QE report certification data wraps type 5 (PEM PCK chain)",
            ));
        }
        let is_off = s.offset();
        let inner_len = usize::try_from(s.u32_le("pck_cert_chain_size")?).unwrap_or(usize::MAX);
        if inner_len != s.remaining() {
            return Err(ParseError::new(
                "pck_cert_chain_size",
                is_off,
                ParseErrorKind::BadLength {
                    value: inner_len as u64,
                    rule: "the PCK chain must end where the certification data ends",
                },
            ));
        }
        let pck_chain = s.take("pck_cert_chain", inner_len)?.to_vec();
        s.finish("signature_data")?;
        Ok(Quote {
            header,
            body,
            signature,
            attestation_key,
            cert: QeCertData {
                qe_report,
                qe_report_signature,
                qe_auth_data,
                inner_type,
                pck_chain,
            },
            trailing,
        })
    }

    /// The signed prefix: header ‖ (v5: body type ‖ body size ‖) body.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.signed_len());
        out.extend_from_slice(self.header.as_bytes());
        if self.version() != 4 {
            let body = self.body.as_bytes();
            out.extend_from_slice(&self.body.body_type().to_le_bytes());
            out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_le_bytes());
        }
        out.extend_from_slice(self.body.as_bytes());
        out
    }

    /// The certification data (type 6 payload).
    pub fn cert_data_bytes(&self) -> Vec<u8> {
        let c = &self.cert;
        let mut out = Vec::with_capacity(456 + c.qe_auth_data.len() + c.pck_chain.len());
        out.extend_from_slice(c.qe_report.as_bytes());
        out.extend_from_slice(&c.qe_report_signature);
        out.extend_from_slice(
            &u16::try_from(c.qe_auth_data.len())
                .unwrap_or(0)
                .to_le_bytes(),
        );
        out.extend_from_slice(&c.qe_auth_data);
        out.extend_from_slice(&c.inner_type.to_le_bytes());
        out.extend_from_slice(&u32::try_from(c.pck_chain.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&c.pck_chain);
        out
    }

    /// Encodes the quote, trailing bytes included.
    pub fn encode(&self) -> Vec<u8> {
        let cert = self.cert_data_bytes();
        let mut out = self.signed_bytes();
        let sig_len = 134 + cert.len();
        out.extend_from_slice(&u32::try_from(sig_len).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&self.attestation_key);
        out.extend_from_slice(&CERT_TYPE_QE_REPORT.to_le_bytes());
        out.extend_from_slice(&u32::try_from(cert.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&cert);
        out.extend_from_slice(&self.trailing);
        out
    }
}
