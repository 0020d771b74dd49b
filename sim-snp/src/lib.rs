//! A model of the AMD SEV-SNP Secure Processor (AMD-SP).
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.

pub mod memory;
