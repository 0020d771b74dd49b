//! The invariant fuzzer.
