//! The cvmsim conformance suite and the command-line front end.
//!
//! - [`catalogue`]: good and deliberately broken evidence, one folder per case, with its expected verdict;
//! - [`evidence_dir`]: `cvmsim verify DIR`, the platform told from the files;
//! - [`suite`]: `cvmsim conformance run`: catalogue, replayed captures and scenarios, results by rule ID;
//! - [`score`]: `cvmsim conformance score`: any verifier command against the catalogue;
//! - [`serve`]: `cvmsim serve`: the vendor services (AMD KDS, NVIDIA RIM and OCSP) on loopback;
//! - [`cli`]: argument parsing; thin over the library calls. It owns no hardware logic.

pub mod catalogue;
pub mod cli;
pub mod evidence_dir;
pub mod fuzzing;
pub mod known;
pub mod score;
pub mod serve;
pub mod suite;
