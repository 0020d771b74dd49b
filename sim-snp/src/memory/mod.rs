//! The SNP memory model: sparse system physical memory, the encryption engine, the RMP and its access
//! checks, the actors, attack scenarios and the invariant fuzzer (snp.md §4, §6).
//!
//! - [`phys`]: system physical memory, sparse in 4 KiB pages (cost grows with the pages touched), with an
//!   optional BadRAM-style aliasing DIMM.
//! - [`engine`]: the per-ASID memory encryption engine (AES-128 XEX or AES-256-XTS, tweak = SPA).
//! - [`rmp`]: the 16-byte RMP entry, the page states of snp.md §4.2; the RMP lives *in* simulated
//!   physical memory, 16 bytes per 4 KiB page covered, as on hardware.
//! - [`machine`]: the platform: hypervisor (NPT, RMPUPDATE, PSMASH, host accesses), guests at VMPL0-3
//!   (private/shared accesses, PVALIDATE, RMPADJUST) and the AMD-SP (launch, page commands), with the
//!   access checks of APM Table 15-39 in their order.
//! - [`rules`]: the enforcement-rule catalogue (`--disable-rule`).
//! - [`op`]: operations and results as text, the vocabulary of scenarios, fuzz cases and traces.
//! - [`attack`]: the named attack scenarios; [`fuzz`]: the invariant fuzzer; [`trace`]: JSON-lines
//!   record and replay.
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.

pub mod attack;
pub mod engine;
pub mod fuzz;
pub mod machine;
pub mod op;
pub mod phys;
pub mod rmp;
pub mod rules;
pub mod trace;
pub mod types;

pub use machine::{Machine, MachineConfig};
pub use types::*;
