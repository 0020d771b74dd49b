//! A model of the NVIDIA H100 confidential-computing root of trust.
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.
