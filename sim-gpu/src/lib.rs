//! A model of the NVIDIA H100 confidential-computing root of trust.
//!
//! - [`layout`]: the SPDM 1.1 GET_MEASUREMENTS request and MEASUREMENTS response, opaque-data TLVs;
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.

pub mod attack;
pub mod channel;
pub mod device;
pub mod evidence;
pub mod layout;
pub mod pki;
pub mod rim;
pub mod show;
pub mod verify;
pub mod xmldsig;
