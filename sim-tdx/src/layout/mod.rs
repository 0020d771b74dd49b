//! Wire structures of TDX attestation, one file per spec structure: the TDREPORT_STRUCT the TDX module
//! writes ([`tdreport`]), and the quote header, TD report bodies and QE report of a DCAP quote
//! ([`quote`]). Every struct is `#[repr(C)]` over alignment-1 little-endian types, so it can hold any
//! bytes (including malformed ones); offsets are asserted at compile time from the tables in tdx.md.

pub mod quote;
pub mod tdreport;

pub use quote::{EnclaveReport, QuoteHeader, TdReportBody10, TdReportBody15, TdReportBody15Ex};
pub use tdreport::{ReportMacStruct, TdInfo, TdReport, TeeTcbInfo};
