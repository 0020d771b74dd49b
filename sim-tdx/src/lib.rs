//! A model of the Intel TDX module, the TD quoting enclave and their PKI.
//!
//! - [`layout`]: TDREPORT_STRUCT, quote header, TD report bodies, QE report (zerocopy, offsets asserted);
//! - [`quote`]: the quote v4/v5 parsed by its length fields and encoded back;
//! - [`module`]: TD build (MRTD), RTMR extension and TDG.MR.REPORT with a simulated MAC key;
//! - [`qe`]: the quoting enclave that checks the MAC and signs quotes;
//! - [`pki`], [`collateral`]: the simulated Intel PKI, TCB info / QE identity, TCB-status evaluation;
//! - [`verify`]: the verifier (raw bytes in, verdict out); [`measure`]: MRTD, TDVF, RTMR, CCEL;
//! - [`evidence`]: the bundle `cvmsim tdx quote` writes; [`show`]: field dumps;
//! - [`memory`]: SEPT/PAMT, TME-MK KeyIDs with integrity, the SEAMCALL and TDCALL interfaces, attack
//!   scenarios and the invariant fuzzer ([`module::TdxPlatform`] answers its TDG.MR.REPORT).
//!
//! **The TDREPORT MAC is simulated.** The hardware MAC key and algorithm are not public (the CPU computes
//! the MAC in SEAMREPORT with a key no software sees), so this model MACs with HMAC-SHA-256 under a
//! per-platform key from the seed, and the MAC of a real TDREPORT cannot be checked.
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.

pub mod collateral;
pub mod evidence;
pub mod layout;
pub mod measure;
pub mod memory;
pub mod module;
pub mod pki;
pub mod qe;
pub mod quote;
pub mod show;
pub mod verify;

/// Intel's SGX Root CA certificate (DER; SHA-256 fingerprint 44A0196B…74D3), the trust anchor of real
/// quotes. Taken from the PCK chain embedded in real quotes (vectors/tdx/README.md).
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("certs/intel_sgx_root_ca.der");
