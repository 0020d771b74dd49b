//! A model of the Intel TDX module, the TD quoting enclave and their PKI.
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.

pub mod memory;
