//! Wire structures, one file per spec structure: zerocopy `#[repr(C)]` types of little-endian fields that
//! can hold any bytes (including malformed ones, which vector generators need), with every offset
//! asserted at compile time against the spec table.

pub mod cert_table;
pub mod guest_msg;
pub mod id_block;
pub mod page_info;
pub mod policy;
pub mod report;
pub mod tcb;

pub use policy::{GuestPolicy, KeyInfo, PlatformInfo};
pub use report::{AttestationReportRaw, EcdsaSignature};
pub use tcb::TcbVersion;
