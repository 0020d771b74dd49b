//! The AMD Secure Processor: a simulated chip (its seed, CHIP_ID, firmware and TCB), the launch commands
//! of a guest, and the guest-message protocol that issues reports and derived keys
//! (SEV-SNP ABI 56860 §8; snp.md §1, §3, §5).

pub mod guest_request;
pub mod launch;
pub mod platform;
pub mod status;

pub use guest_request::GuestDriver;
pub use launch::{Guest, IdBlockInput};
pub use platform::{Platform, PlatformConfig, VlekConfig};
pub use status::FwStatus;
