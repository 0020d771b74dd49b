//! The SNP memory model: sparse system physical memory, the encryption engine, the RMP and its access
//! checks, the actors, attack scenarios and the invariant fuzzer (snp.md §4, §6).
