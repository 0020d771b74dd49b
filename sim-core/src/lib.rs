//! Shared vocabulary of the cvmsim hardware models.
//!
//! Every model crate (`sim-snp`, `sim-tdx`, `sim-gpu`) speaks the same language to the conformance suite:
//!
//! - [`verdict`]: a verifier's answer, a list of [`verdict::Check`]s each naming a rule ID, in the JSON shape
//!   of the command-line contract;
//! - [`parse`]: the `{field, offset, kind}` parse error every decoder returns, the must-be-zero helper and a
//!   bounds-checked byte reader;
//! - [`rules`]: the set of enabled memory-model enforcement rules (`--disable-rule`);
//! - [`scenario`]: attack-scenario and fuzz reports, and trace events (JSON lines);
//! - [`rng`]: the only source of randomness, a ChaCha20 stream seeded from a name and a seed;
//! - [`x509`]: building blocks for the three simulated PKIs (names, validity, raw extensions, signing);
//! - [`hexarg`], [`time`], [`files`]: the command-line conventions (hex arguments, `--now`, atomic output).
//!
//! This is a simulator: nothing here is constant-time and no key here protects anything.

pub mod files;
pub mod hexarg;
pub mod parse;
pub mod rng;
pub mod rules;
pub mod scenario;
pub mod time;
pub mod verdict;
pub mod x509;
pub mod xts;

pub use parse::{ParseError, ParseErrorKind, Reader};
pub use verdict::{Check, Platform, Verdict};
