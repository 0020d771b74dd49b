//! GET_MEASUREMENTS request — DMTF DSP0274 1.1 §10.11, Table 40 (gpu.md §1.1).

use std::mem::offset_of;

use sim_core::parse::ParseError;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{GET_MEASUREMENTS, SPDM_VERSION_11};

/// GET_MEASUREMENTS request message, 37 bytes — DSP0274 1.1 §10.11 Table 40 (with a nonce, as the
/// H100 verifier sends it: Param1 bit 0 = signature requested).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct GetMeasurementsRequest {
    /// SPDMVersion (offset 0): 0x11.
    pub spdm_version: u8,
    /// RequestResponseCode (offset 1): 0xE0 GET_MEASUREMENTS.
    pub request_response_code: u8,
    /// Param1 (offset 2): bit 0 = generate a signature; H100 verifiers send 0x01.
    pub param1: u8,
    /// Param2 (offset 3): measurement operation; 0xFF = all measurements.
    pub param2: u8,
    /// Nonce (offset 4): the verifier's 32-byte nonce, the one every verifier compares.
    pub nonce: [u8; 32],
    /// SlotIDParam (offset 36): certificate slot of the signing key, 0.
    pub slot_id_param: u8,
}

const _: () = assert!(
    size_of::<GetMeasurementsRequest>() == 37
        && offset_of!(GetMeasurementsRequest, spdm_version) == 0
        && offset_of!(GetMeasurementsRequest, request_response_code) == 1
        && offset_of!(GetMeasurementsRequest, param1) == 2
        && offset_of!(GetMeasurementsRequest, param2) == 3
        && offset_of!(GetMeasurementsRequest, nonce) == 4
        && offset_of!(GetMeasurementsRequest, slot_id_param) == 36
);

impl GetMeasurementsRequest {
    /// Size on the wire.
    pub const SIZE: usize = 37;

    /// The request an H100 verifier sends: `11 E0 01 FF <nonce> 00`.
    pub fn new(nonce: [u8; 32]) -> Self {
        GetMeasurementsRequest {
            spdm_version: SPDM_VERSION_11,
            request_response_code: GET_MEASUREMENTS,
            param1: 0x01,
            param2: 0xFF,
            nonce,
            slot_id_param: 0,
        }
    }

    /// Reads the request from the start of `bytes` (structure only: field values are checked by
    /// [`GetMeasurementsRequest::check`]).
    pub fn read(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::read_from_prefix(bytes)
            .map(|(r, _)| r)
            .map_err(|_| ParseError::truncated("GET_MEASUREMENTS", 0, Self::SIZE, bytes.len()))
    }

    /// Checks the values DSP0274 1.1 and the H100 verifiers require (SPDM 1.1, GET_MEASUREMENTS,
    /// signature requested). Offsets are absolute in the report.
    pub fn check(&self) -> Result<(), ParseError> {
        if self.spdm_version != SPDM_VERSION_11 {
            return Err(ParseError::invalid(
                "GET_MEASUREMENTS.SPDMVersion",
                0,
                format!("0x{:02x}", self.spdm_version),
                "Hopper reports are SPDM 1.1 (0x11)",
            ));
        }
        if self.request_response_code != GET_MEASUREMENTS {
            return Err(ParseError::invalid(
                "GET_MEASUREMENTS.RequestResponseCode",
                1,
                format!("0x{:02x}", self.request_response_code),
                "must be 0xE0 GET_MEASUREMENTS",
            ));
        }
        if self.param1 & 1 == 0 {
            return Err(ParseError::invalid(
                "GET_MEASUREMENTS.Param1",
                2,
                format!("0x{:02x}", self.param1),
                "bit 0 (signature requested) must be set for a signed report",
            ));
        }
        Ok(())
    }
}
