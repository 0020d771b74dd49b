//! MEASUREMENTS response — DMTF DSP0274 1.1 §10.11, Table 43 and "Measurement block" Table 45 (gpu.md §1.2),
//! and the whole report `request ‖ response`.
//!
//! Parsed by its length fields (NumberOfBlocks, MeasurementRecordLength, MeasurementSize, OpaqueLength),
//! never "the last 96 bytes": bytes after the signature are kept in [`Report::trailing`] for the
//! verifier to judge (the trustee CoCo capture has one such byte).

use std::mem::offset_of;

use sim_core::parse::{ParseError, Reader};
use zerocopy::byteorder::little_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::opaque::OpaqueData;
use super::request::GetMeasurementsRequest;
use super::{DIGEST_SIZE, MEASUREMENTS, SIGNATURE_SIZE, SPDM_VERSION_11};

/// Fixed part of the MEASUREMENTS response, 8 bytes — DSP0274 1.1 Table 43.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct MeasurementsResponseHeader {
    /// SPDMVersion (offset 0): 0x11.
    pub spdm_version: u8,
    /// RequestResponseCode (offset 1): 0x60 MEASUREMENTS.
    pub request_response_code: u8,
    /// Param1 (offset 2): reserved when Param2 of the request is not 0.
    pub param1: u8,
    /// Param2 (offset 3): SlotID of the signing certificate.
    pub param2: u8,
    /// NumberOfBlocks (offset 4): 64 on H100.
    pub number_of_blocks: u8,
    /// MeasurementRecordLength (offset 5): 24-bit little-endian, 3520 on H100.
    pub measurement_record_length: [u8; 3],
}

const _: () = assert!(
    size_of::<MeasurementsResponseHeader>() == 8
        && offset_of!(MeasurementsResponseHeader, spdm_version) == 0
        && offset_of!(MeasurementsResponseHeader, request_response_code) == 1
        && offset_of!(MeasurementsResponseHeader, param1) == 2
        && offset_of!(MeasurementsResponseHeader, param2) == 3
        && offset_of!(MeasurementsResponseHeader, number_of_blocks) == 4
        && offset_of!(MeasurementsResponseHeader, measurement_record_length) == 5
);

/// Measurement block header with its DMTF measurement-value header, 7 bytes — DSP0274 1.1 Table 45
/// (Index, MeasurementSpecification, MeasurementSize) and Table 46 (DMTFSpecMeasurementValueType,
/// DMTFSpecMeasurementValueSize). The value follows.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct MeasurementBlockHeader {
    /// Index (offset 0): 1..N in order on H100.
    pub index: u8,
    /// MeasurementSpecification (offset 1): bit 0 = DMTF (0x01); NVIDIA's verifier requires 1.
    pub measurement_specification: u8,
    /// MeasurementSize (offset 2): size of the DMTF measurement that follows (3 + value size = 51).
    pub measurement_size: U16,
    /// DMTFSpecMeasurementValueType (offset 4): bit 7 = raw bitstream, bits 6:0 = kind (0x01 mutable firmware).
    pub dmtf_spec_measurement_value_type: u8,
    /// DMTFSpecMeasurementValueSize (offset 5): 48 on H100.
    pub dmtf_spec_measurement_value_size: U16,
}

const _: () = assert!(
    size_of::<MeasurementBlockHeader>() == 7
        && offset_of!(MeasurementBlockHeader, index) == 0
        && offset_of!(MeasurementBlockHeader, measurement_specification) == 1
        && offset_of!(MeasurementBlockHeader, measurement_size) == 2
        && offset_of!(MeasurementBlockHeader, dmtf_spec_measurement_value_type) == 4
        && offset_of!(MeasurementBlockHeader, dmtf_spec_measurement_value_size) == 5
);

/// One measurement block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasurementBlock {
    /// Index (1-based).
    pub index: u8,
    /// MeasurementSpecification.
    pub measurement_specification: u8,
    /// DMTFSpecMeasurementValueType.
    pub value_type: u8,
    /// DMTFSpecMeasurementValue.
    pub value: Vec<u8>,
}

impl MeasurementBlock {
    /// A DMTF digest block of the "mutable firmware" kind (type 0x01), as every H100 block is.
    pub fn digest(index: u8, value: [u8; DIGEST_SIZE]) -> Self {
        MeasurementBlock {
            index,
            measurement_specification: 1,
            value_type: 1,
            value: value.to_vec(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let vlen = u16::try_from(self.value.len()).unwrap_or(u16::MAX);
        let h = MeasurementBlockHeader {
            index: self.index,
            measurement_specification: self.measurement_specification,
            measurement_size: U16::new(vlen.saturating_add(3)),
            dmtf_spec_measurement_value_type: self.value_type,
            dmtf_spec_measurement_value_size: U16::new(vlen),
        };
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&self.value[..usize::from(vlen)]);
    }
}

/// The MEASUREMENTS response, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasurementsResponse {
    /// The fixed header (the record length as read).
    pub header: MeasurementsResponseHeader,
    /// The measurement blocks in order.
    pub blocks: Vec<MeasurementBlock>,
    /// Nonce: the responder's 32-byte nonce.
    pub nonce: [u8; 32],
    /// OpaqueData, decoded.
    pub opaque: OpaqueData,
    /// OpaqueLength as read.
    pub opaque_length: u16,
    /// Signature: raw `r‖s` (96 bytes for P-384).
    pub signature: Vec<u8>,
}

/// A whole report: request, response, and the bytes after the signature, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The GET_MEASUREMENTS request.
    pub request: GetMeasurementsRequest,
    /// The MEASUREMENTS response.
    pub response: MeasurementsResponse,
    /// Absolute offset of the signature (= length of the signed bytes).
    pub signature_offset: usize,
    /// Bytes after the signature (none in a well-formed report).
    pub trailing: Vec<u8>,
}

impl Report {
    /// Parses `request ‖ response` by length fields. Offsets in errors are absolute in `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let request = GetMeasurementsRequest::read(bytes)?;
        request.check()?;
        let rest = bytes.get(GetMeasurementsRequest::SIZE..).unwrap_or(&[]);
        let base = GetMeasurementsRequest::SIZE;
        let (header, _) = MeasurementsResponseHeader::read_from_prefix(rest)
            .map_err(|_| ParseError::truncated("MEASUREMENTS", base, 8, rest.len()))?;
        if header.spdm_version != SPDM_VERSION_11 {
            return Err(ParseError::invalid(
                "MEASUREMENTS.SPDMVersion",
                base,
                format!("0x{:02x}", header.spdm_version),
                "Hopper reports are SPDM 1.1 (0x11)",
            ));
        }
        if header.request_response_code != MEASUREMENTS {
            return Err(ParseError::invalid(
                "MEASUREMENTS.RequestResponseCode",
                base + 1,
                format!("0x{:02x}", header.request_response_code),
                "must be 0x60 MEASUREMENTS",
            ));
        }
        let mut r = Reader::with_base(rest, base);
        r.take("MEASUREMENTS header", 8)?;
        let rec_len = usize::try_from(
            u32::from(header.measurement_record_length[0])
                | (u32::from(header.measurement_record_length[1]) << 8)
                | (u32::from(header.measurement_record_length[2]) << 16),
        )
        .unwrap_or(usize::MAX);
        let rec_off = r.offset();
        let record = r.take("MeasurementRecord", rec_len)?;
        let blocks = parse_record(record, rec_off, header.number_of_blocks)?;
        let nonce = r.array::<32>("Nonce")?;
        let opaque_length = r.u16_le("OpaqueLength")?;
        let op_off = r.offset();
        let op = r.take("OpaqueData", usize::from(opaque_length))?;
        let opaque = OpaqueData::parse(op, op_off)?;
        let signature_offset = r.offset();
        let signature = r.take("Signature", SIGNATURE_SIZE)?.to_vec();
        let trailing = r.rest().to_vec();
        Ok(Report {
            request,
            response: MeasurementsResponse {
                header,
                blocks,
                nonce,
                opaque,
                opaque_length,
                signature,
            },
            signature_offset,
            trailing,
        })
    }

    /// The signed bytes of `bytes` (request ‖ response without the signature).
    pub fn signed_bytes<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        bytes.get(..self.signature_offset).unwrap_or(bytes)
    }

    /// Measurement value of 1-based block `index`.
    pub fn measurement(&self, index: u8) -> Option<&[u8]> {
        self.response
            .blocks
            .iter()
            .find(|b| b.index == index)
            .map(|b| b.value.as_slice())
    }
}

fn parse_record(
    record: &[u8],
    base: usize,
    number_of_blocks: u8,
) -> Result<Vec<MeasurementBlock>, ParseError> {
    let mut r = Reader::with_base(record, base);
    let mut blocks = Vec::with_capacity(usize::from(number_of_blocks));
    for i in 0..number_of_blocks {
        let off = r.offset();
        let hb = r.take("MeasurementBlock", size_of::<MeasurementBlockHeader>())?;
        let h = MeasurementBlockHeader::read_from_bytes(hb)
            .map_err(|_| ParseError::truncated("MeasurementBlock", off, 7, hb.len()))?;
        let expected = i.wrapping_add(1);
        if h.index != expected {
            return Err(ParseError::invalid(
                "MeasurementBlock.Index",
                off,
                h.index,
                "indices must be 1..N in order (NVIDIA's verifier stores block i at i-1)",
            ));
        }
        if h.measurement_specification != 1 {
            return Err(ParseError::invalid(
                "MeasurementBlock.MeasurementSpecification",
                off + 1,
                h.measurement_specification,
                "must be 0x01 (DMTF)",
            ));
        }
        let vsize = h.dmtf_spec_measurement_value_size.get();
        if h.measurement_size.get() != vsize.wrapping_add(3) {
            return Err(ParseError::new(
                "MeasurementBlock.MeasurementSize",
                off + 2,
                sim_core::ParseErrorKind::BadLength {
                    value: u64::from(h.measurement_size.get()),
                    rule: "must equal 3 + DMTFSpecMeasurementValueSize",
                },
            ));
        }
        let value = r
            .take("DMTFSpecMeasurementValue", usize::from(vsize))?
            .to_vec();
        blocks.push(MeasurementBlock {
            index: h.index,
            measurement_specification: h.measurement_specification,
            value_type: h.dmtf_spec_measurement_value_type,
            value,
        });
    }
    if r.remaining() != 0 {
        return Err(ParseError::new(
            "MeasurementRecordLength",
            base - 3,
            sim_core::ParseErrorKind::BadLength {
                value: u64::try_from(record.len()).unwrap_or(u64::MAX),
                rule: "must equal the sum of the blocks' sizes",
            },
        ));
    }
    Ok(blocks)
}

impl MeasurementsResponse {
    /// Encodes the response. Lengths are recomputed from the contents, except when `header` fields
    /// are deliberately inconsistent (vector mutators edit the bytes instead).
    pub fn encode(&self) -> Vec<u8> {
        let mut record = Vec::new();
        for b in &self.blocks {
            b.encode(&mut record);
        }
        let rl = u32::try_from(record.len()).unwrap_or(0).to_le_bytes();
        let mut h = self.header;
        h.number_of_blocks = u8::try_from(self.blocks.len()).unwrap_or(u8::MAX);
        h.measurement_record_length = [rl[0], rl[1], rl[2]];
        let mut out = h.as_bytes().to_vec();
        out.extend(record);
        out.extend_from_slice(&self.nonce);
        let op = self.opaque.encode();
        out.extend_from_slice(&u16::try_from(op.len()).unwrap_or(0).to_le_bytes());
        out.extend(op);
        out.extend_from_slice(&self.signature);
        out
    }

    /// The response header an H100 sends: `11 60 00 00 <blocks> <record length>` (filled by encode).
    pub fn h100_header() -> MeasurementsResponseHeader {
        MeasurementsResponseHeader {
            spdm_version: SPDM_VERSION_11,
            request_response_code: MEASUREMENTS,
            param1: 0,
            param2: 0,
            number_of_blocks: 0,
            measurement_record_length: [0; 3],
        }
    }
}
