//! A model of the AMD SEV-SNP Secure Processor (AMD-SP).
//!
//! - [`layout`]: the wire structures (ATTESTATION_REPORT, TCB_VERSION, guest messages, ID block,
//!   PAGE_INFO, certificate table), offsets asserted against the spec tables;
//! - [`report`]: the validated report with its version and product context;
//! - [`keys`]: the VCEK/VLEK derivation of AMD's firmware (hash sticks, SP 800-108 KDF, extra bits);
//! - [`pki`]: ARK/ASK/ASVK/VCEK/VLEK certificates and CRLs shaped like AMD's KDS;
//! - [`sp`]: the Secure Processor: platform, launch commands, guest messages, report issuance;
//! - [`measure`]: the expected launch digest of an OVMF image (as sev-snp-measure computes it);
//! - [`verify`]: raw bytes in, a [`sim_core::Verdict`] out;
//! - [`evidence`]: the files a user or verifier receives;
//! - [`memory`]: the RMP-enforcing memory model.
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.

pub mod evidence;
pub mod keys;
pub mod layout;
pub mod measure;
pub mod memory;
pub mod pki;
pub mod product;
pub mod report;
pub mod roots;
pub mod sp;
pub mod verify;

pub use product::Product;
