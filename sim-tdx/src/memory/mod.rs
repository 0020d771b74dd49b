//! The TDX memory model: SEPT and PAMT, TME-MK KeyIDs with integrity, the host (SEAMCALL) and guest
//! (TDCALL) interfaces, attack scenarios and the invariant fuzzer (tdx.md §5, §6).
