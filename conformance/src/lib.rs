//! The cvmsim conformance suite and the command-line front end.
//!
//! The command line (`cvmsim`) is thin: [`cli`] parses arguments, calls the model crates and prints. It
//! owns no hardware logic.

pub mod cli;
