//! Wire structures of the H100 attestation report (gpu.md §1, §2; DMTF DSP0274 1.1 §10.11).
//!
//! The report is `GET_MEASUREMENTS request (37 B) ‖ MEASUREMENTS response`. Fixed-size parts are
//! zerocopy `#[repr(C)]` structs with compile-time offset checks; variable parts (measurement record,
//! opaque data, signature) are parsed by their length fields with [`sim_core::parse::Reader`], so every
//! error names the field and its absolute offset in the report.

pub mod opaque;
pub mod request;
pub mod response;

pub use opaque::{OpaqueData, OpaqueField, OpaqueType};
pub use request::GetMeasurementsRequest;
pub use response::{
    MeasurementBlock, MeasurementBlockHeader, MeasurementsResponse, MeasurementsResponseHeader,
    Report,
};

/// SPDMVersion 1.1 (DSP0274 1.1 §9, "SPDMVersion": 0x11). Hopper reports use SPDM 1.1.
pub const SPDM_VERSION_11: u8 = 0x11;
/// RequestResponseCode GET_MEASUREMENTS (DSP0274 1.1 Table 4).
pub const GET_MEASUREMENTS: u8 = 0xE0;
/// RequestResponseCode MEASUREMENTS (DSP0274 1.1 Table 5).
pub const MEASUREMENTS: u8 = 0x60;
/// Number of measurement blocks an H100 returns (gpu.md §1.2).
pub const H100_BLOCKS: usize = 64;
/// SHA-384 digest size, the DMTFSpecMeasurementValueSize of every H100 block.
pub const DIGEST_SIZE: usize = 48;
/// Size of the raw `r‖s` P-384 signature at the end of the response (gpu.md §1.3).
pub const SIGNATURE_SIZE: usize = 96;

/// The report bytes of a report file: NVIDIA's sample files are one hex string (whitespace allowed),
/// `report.bin` is binary. Text made only of hex digits and whitespace is decoded; anything else is
/// taken as binary.
pub fn report_file_bytes(raw: &[u8]) -> Result<Vec<u8>, String> {
    let is_hex = !raw.is_empty()
        && raw
            .iter()
            .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace());
    if !is_hex {
        return Ok(raw.to_vec());
    }
    let text: String = raw
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| char::from(*b))
        .collect();
    hex::decode(text).map_err(|e| format!("hex: {e}"))
}
