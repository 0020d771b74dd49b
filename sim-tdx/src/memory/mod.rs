//! The TDX memory model: SEPT and PAMT, TME-MK KeyIDs with integrity, the host (SEAMCALL) and guest
//! (TDCALL) interfaces, attack scenarios and the invariant fuzzer (tdx.md §5, §6).
//!
//! - [`seamcall`]: the TDX module state (TDs, vCPUs, PAMT) and the host leaves.
//! - [`guest`]: TDH.VP.ENTER, TD exits, guest accesses, TDG.MEM.PAGE.ACCEPT, TDG.MR.*, TDG.VP.VMCALL.
//! - [`sept`], [`pamt`]: the Secure EPT and the PAMT.
//! - [`tme`]: KeyIDs, AES-XTS per KeyID and the Ci/Li integrity modes.
//! - [`errors`]: TDX status codes and operand IDs.
//! - [`rules`]: the rule catalogue; [`ops`]: operations as data; [`trace`]: JSON-lines record/replay.
//! - [`attack`]: named attack scenarios; [`fuzz`]: the invariant fuzzer.

pub mod attack;
pub mod errors;
pub mod fuzz;
pub mod guest;
pub mod lab;
pub mod ops;
pub mod pamt;
pub mod rules;
pub mod seamcall;
pub mod sept;
pub mod tme;
pub mod trace;

pub use errors::{OperandId, TdxError, TdxStatus};
pub use ops::{Actor, Event, Op};
pub use seamcall::{Config, TdxModule};
