//! A model of the NVIDIA H100 confidential-computing root of trust (facts: `gpu.md`).
//!
//! - [`layout`]: the SPDM 1.1 GET_MEASUREMENTS request and MEASUREMENTS response, the opaque-data TLVs,
//!   parsed by their length fields with errors naming the field and its absolute offset;
//! - [`pki`]: the simulated device chain (AK, IK, L3, L2, L1 shaped like NVIDIA's, FWID extension) and the
//!   simulated RIM PKI;
//! - [`device`]: the simulated H100 (seed → identity, firmware set → 64 registers and opaque data, CC
//!   modes), answering GET_MEASUREMENTS byte-exact, and its RIMs;
//! - [`rim`], [`xmldsig`]: SWID RIMs with NVIDIA's RIM ids, enveloped XML-DSig with C14N 1.1 and
//!   ecdsa-sha384 (verifies NVIDIA's real RIMs);
//! - [`evidence`]: the files of `cvmsim gpu evidence` and the deliberately broken variants;
//! - [`verify`]: NVIDIA's verifier checks, offline, with claims in NVIDIA's claims 3.0 shape;
//! - [`show`]: NVIDIA's parsed-JSON shape and a human listing; [`roots`]: NVIDIA's real roots, bundled;
//! - [`channel`], [`attack`]: the SPDM session key schedule, the AES-256-GCM CPU↔GPU channel over
//!   staging buffers, and the host's attacks on it.
//!
//! This is a simulator: nothing here is constant-time, and no key here protects anything.

pub mod attack;
pub mod channel;
pub mod device;
pub mod evidence;
pub mod layout;
pub mod pki;
pub mod rim;
pub mod roots;
pub mod show;
pub mod verify;
pub mod xmldsig;
