//! TDX module status codes (RAX after SEAMCALL/TDCALL) with operand IDs.
//!
//! Codes are copied from the TDX module's `auto_gen/tdx_error_codes_defs.h` (intel/tdx-module branch
//! `tdx_1.5`), the layout from tdx.md §5.5: bit 63 error, bits 62..60 severity, bits 47:32 class and code,
//! bits 31:0 details, usually the operand ID of `api_error_with_operand_id()`.

use std::fmt;

/// A TDX status code, named as the TDX module names it (`TDX_OPERAND_INVALID`, ...).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TdxStatus {
    /// 0x0000000000000000
    TDX_SUCCESS,
    /// 0x6000000200000000
    TDX_NON_RECOVERABLE_TD,
    /// 0xC000010000000000
    TDX_OPERAND_INVALID,
    /// 0xC000010100000000
    TDX_OPERAND_ADDR_RANGE_ERROR,
    /// 0x8000020000000000
    TDX_OPERAND_BUSY,
    /// 0x8000020100000000
    TDX_PREVIOUS_TLB_EPOCH_BUSY,
    /// 0xC000030000000000
    TDX_PAGE_METADATA_INCORRECT,
    /// 0x0000030100000000
    TDX_PAGE_ALREADY_FREE,
    /// 0xC000030200000000
    TDX_PAGE_NOT_OWNED_BY_TD,
    /// 0xC000030300000000
    TDX_PAGE_NOT_FREE,
    /// 0xC000040000000000
    TDX_TD_ASSOCIATED_PAGES_EXIST,
    /// 0xE000060400000000
    TDX_TD_FATAL,
    /// 0xC000060500000000
    TDX_TD_NON_DEBUG,
    /// 0xC000060600000000
    TDX_TDCS_NOT_ALLOCATED,
    /// 0xC000060700000000
    TDX_LIFECYCLE_STATE_INCORRECT,
    /// 0xC000060800000000
    TDX_OP_STATE_INCORRECT,
    /// 0xC000060900000000
    TDX_NO_VCPUS,
    /// 0xC000070000000000
    TDX_VCPU_STATE_INCORRECT,
    /// 0xC000070500000000
    TDX_MAX_VCPUS_EXCEEDED,
    /// 0x8000081000000000
    TDX_TD_KEYS_NOT_CONFIGURED,
    /// 0xC000081100000000
    TDX_KEY_STATE_INCORRECT,
    /// 0x0000081500000000
    TDX_KEY_CONFIGURED,
    /// 0xC000082000000000
    TDX_HKID_NOT_FREE,
    /// 0x8000082400000000
    TDX_FLUSHVP_NOT_DONE,
    /// 0xC0000B0000000000
    TDX_EPT_WALK_FAILED,
    /// 0xC0000B0100000000
    TDX_EPT_ENTRY_FREE,
    /// 0xC0000B0200000000
    TDX_EPT_ENTRY_NOT_FREE,
    /// 0xC0000B0300000000
    TDX_EPT_ENTRY_NOT_PRESENT,
    /// 0xC0000B0400000000
    TDX_EPT_ENTRY_NOT_LEAF,
    /// 0xC0000B0500000000
    TDX_EPT_ENTRY_LEAF,
    /// 0xC0000B0600000000
    TDX_GPA_RANGE_NOT_BLOCKED,
    /// 0x00000B0700000000 (a warning: bit 63 clear)
    TDX_GPA_RANGE_ALREADY_BLOCKED,
    /// 0xC0000B0800000000
    TDX_TLB_TRACKING_NOT_DONE,
    /// 0xC0000B0900000000
    TDX_EPT_INVALID_PROMOTE_CONDITIONS,
    /// 0x00000B0A00000000 (a warning)
    TDX_PAGE_ALREADY_ACCEPTED,
    /// 0xC0000B0B00000000
    TDX_PAGE_SIZE_MISMATCH,
    /// 0xC0000B0C00000000
    TDX_GPA_RANGE_BLOCKED,
    /// 0xC0000B0D00000000
    TDX_EPT_ENTRY_STATE_INCORRECT,
    /// 0xC0000B0E00000000
    TDX_EPT_PAGE_NOT_FREE,
}

impl TdxStatus {
    /// Every status the model can return.
    pub const ALL: &'static [TdxStatus] = &[
        Self::TDX_SUCCESS,
        Self::TDX_NON_RECOVERABLE_TD,
        Self::TDX_OPERAND_INVALID,
        Self::TDX_OPERAND_ADDR_RANGE_ERROR,
        Self::TDX_OPERAND_BUSY,
        Self::TDX_PREVIOUS_TLB_EPOCH_BUSY,
        Self::TDX_PAGE_METADATA_INCORRECT,
        Self::TDX_PAGE_ALREADY_FREE,
        Self::TDX_PAGE_NOT_OWNED_BY_TD,
        Self::TDX_PAGE_NOT_FREE,
        Self::TDX_TD_ASSOCIATED_PAGES_EXIST,
        Self::TDX_TD_FATAL,
        Self::TDX_TD_NON_DEBUG,
        Self::TDX_TDCS_NOT_ALLOCATED,
        Self::TDX_LIFECYCLE_STATE_INCORRECT,
        Self::TDX_OP_STATE_INCORRECT,
        Self::TDX_NO_VCPUS,
        Self::TDX_VCPU_STATE_INCORRECT,
        Self::TDX_MAX_VCPUS_EXCEEDED,
        Self::TDX_TD_KEYS_NOT_CONFIGURED,
        Self::TDX_KEY_STATE_INCORRECT,
        Self::TDX_KEY_CONFIGURED,
        Self::TDX_HKID_NOT_FREE,
        Self::TDX_FLUSHVP_NOT_DONE,
        Self::TDX_EPT_WALK_FAILED,
        Self::TDX_EPT_ENTRY_FREE,
        Self::TDX_EPT_ENTRY_NOT_FREE,
        Self::TDX_EPT_ENTRY_NOT_PRESENT,
        Self::TDX_EPT_ENTRY_NOT_LEAF,
        Self::TDX_EPT_ENTRY_LEAF,
        Self::TDX_GPA_RANGE_NOT_BLOCKED,
        Self::TDX_GPA_RANGE_ALREADY_BLOCKED,
        Self::TDX_TLB_TRACKING_NOT_DONE,
        Self::TDX_EPT_INVALID_PROMOTE_CONDITIONS,
        Self::TDX_PAGE_ALREADY_ACCEPTED,
        Self::TDX_PAGE_SIZE_MISMATCH,
        Self::TDX_GPA_RANGE_BLOCKED,
        Self::TDX_EPT_ENTRY_STATE_INCORRECT,
        Self::TDX_EPT_PAGE_NOT_FREE,
    ];

    /// The 64-bit code with bits 31:0 clear (`tdx_error_codes_defs.h`).
    pub const fn code(self) -> u64 {
        match self {
            Self::TDX_SUCCESS => 0,
            Self::TDX_NON_RECOVERABLE_TD => 0x6000_0002_0000_0000,
            Self::TDX_OPERAND_INVALID => 0xC000_0100_0000_0000,
            Self::TDX_OPERAND_ADDR_RANGE_ERROR => 0xC000_0101_0000_0000,
            Self::TDX_OPERAND_BUSY => 0x8000_0200_0000_0000,
            Self::TDX_PREVIOUS_TLB_EPOCH_BUSY => 0x8000_0201_0000_0000,
            Self::TDX_PAGE_METADATA_INCORRECT => 0xC000_0300_0000_0000,
            Self::TDX_PAGE_ALREADY_FREE => 0x0000_0301_0000_0000,
            Self::TDX_PAGE_NOT_OWNED_BY_TD => 0xC000_0302_0000_0000,
            Self::TDX_PAGE_NOT_FREE => 0xC000_0303_0000_0000,
            Self::TDX_TD_ASSOCIATED_PAGES_EXIST => 0xC000_0400_0000_0000,
            Self::TDX_TD_FATAL => 0xE000_0604_0000_0000,
            Self::TDX_TD_NON_DEBUG => 0xC000_0605_0000_0000,
            Self::TDX_TDCS_NOT_ALLOCATED => 0xC000_0606_0000_0000,
            Self::TDX_LIFECYCLE_STATE_INCORRECT => 0xC000_0607_0000_0000,
            Self::TDX_OP_STATE_INCORRECT => 0xC000_0608_0000_0000,
            Self::TDX_NO_VCPUS => 0xC000_0609_0000_0000,
            Self::TDX_VCPU_STATE_INCORRECT => 0xC000_0700_0000_0000,
            Self::TDX_MAX_VCPUS_EXCEEDED => 0xC000_0705_0000_0000,
            Self::TDX_TD_KEYS_NOT_CONFIGURED => 0x8000_0810_0000_0000,
            Self::TDX_KEY_STATE_INCORRECT => 0xC000_0811_0000_0000,
            Self::TDX_KEY_CONFIGURED => 0x0000_0815_0000_0000,
            Self::TDX_HKID_NOT_FREE => 0xC000_0820_0000_0000,
            Self::TDX_FLUSHVP_NOT_DONE => 0x8000_0824_0000_0000,
            Self::TDX_EPT_WALK_FAILED => 0xC000_0B00_0000_0000,
            Self::TDX_EPT_ENTRY_FREE => 0xC000_0B01_0000_0000,
            Self::TDX_EPT_ENTRY_NOT_FREE => 0xC000_0B02_0000_0000,
            Self::TDX_EPT_ENTRY_NOT_PRESENT => 0xC000_0B03_0000_0000,
            Self::TDX_EPT_ENTRY_NOT_LEAF => 0xC000_0B04_0000_0000,
            Self::TDX_EPT_ENTRY_LEAF => 0xC000_0B05_0000_0000,
            Self::TDX_GPA_RANGE_NOT_BLOCKED => 0xC000_0B06_0000_0000,
            Self::TDX_GPA_RANGE_ALREADY_BLOCKED => 0x0000_0B07_0000_0000,
            Self::TDX_TLB_TRACKING_NOT_DONE => 0xC000_0B08_0000_0000,
            Self::TDX_EPT_INVALID_PROMOTE_CONDITIONS => 0xC000_0B09_0000_0000,
            Self::TDX_PAGE_ALREADY_ACCEPTED => 0x0000_0B0A_0000_0000,
            Self::TDX_PAGE_SIZE_MISMATCH => 0xC000_0B0B_0000_0000,
            Self::TDX_GPA_RANGE_BLOCKED => 0xC000_0B0C_0000_0000,
            Self::TDX_EPT_ENTRY_STATE_INCORRECT => 0xC000_0B0D_0000_0000,
            Self::TDX_EPT_PAGE_NOT_FREE => 0xC000_0B0E_0000_0000,
        }
    }

    /// Whether bit 63 (error) is set; warnings such as `TDX_GPA_RANGE_ALREADY_BLOCKED` are not errors.
    pub const fn is_error(self) -> bool {
        self.code() >> 63 == 1
    }

    /// The spec name.
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// Looks a name up (`TDX_OPERAND_INVALID`).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.name() == s)
    }
}

/// Operand IDs of `api_error_with_operand_id()` (tdx-module `tdx_basic_defs.h`; Linux
/// `TDX_OPERAND_ID_SEPT` 0x92, `TDX_OPERAND_ID_TD_EPOCH` 0xA9).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OperandId {
    /// 0: RAX (the leaf itself).
    RAX,
    /// 1
    RCX,
    /// 2
    RDX,
    /// 8
    R8,
    /// 9
    R9,
    /// 128: the TDR page.
    TDR,
    /// 129
    TDCX,
    /// 130
    TDVPR,
    /// 144
    TDCS,
    /// 146: the Secure EPT tree (lock).
    SEPT_TREE,
    /// 147
    SEPT_ENTRY,
    /// 168
    RTMR,
    /// 169
    TD_EPOCH,
}

impl OperandId {
    /// Every operand ID.
    pub const ALL: &'static [OperandId] = &[
        Self::RAX,
        Self::RCX,
        Self::RDX,
        Self::R8,
        Self::R9,
        Self::TDR,
        Self::TDCX,
        Self::TDVPR,
        Self::TDCS,
        Self::SEPT_TREE,
        Self::SEPT_ENTRY,
        Self::RTMR,
        Self::TD_EPOCH,
    ];

    /// The numeric ID placed in bits 31:0.
    pub const fn id(self) -> u64 {
        match self {
            Self::RAX => 0,
            Self::RCX => 1,
            Self::RDX => 2,
            Self::R8 => 8,
            Self::R9 => 9,
            Self::TDR => 128,
            Self::TDCX => 129,
            Self::TDVPR => 130,
            Self::TDCS => 144,
            Self::SEPT_TREE => 146,
            Self::SEPT_ENTRY => 147,
            Self::RTMR => 168,
            Self::TD_EPOCH => 169,
        }
    }

    /// Looks a name up (`RCX`).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| format!("{o:?}") == s)
    }
}

/// A failed (or warning) SEAMCALL/TDCALL: status plus the operand it names, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TdxError {
    /// The status code.
    pub status: TdxStatus,
    /// The operand, when the module reports one.
    pub operand: Option<OperandId>,
}

impl TdxError {
    /// A status naming an operand.
    pub const fn op(status: TdxStatus, operand: OperandId) -> Self {
        Self {
            status,
            operand: Some(operand),
        }
    }

    /// A status with no operand.
    pub const fn bare(status: TdxStatus) -> Self {
        Self {
            status,
            operand: None,
        }
    }

    /// The RAX value: code | operand ID.
    pub const fn raw(&self) -> u64 {
        match self.operand {
            Some(o) => self.status.code() | o.id(),
            None => self.status.code(),
        }
    }

    /// Parses the rendering of [`fmt::Display`] (`TDX_OPERAND_INVALID(RCX)`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.split_once('(') {
            Some((name, rest)) => Some(Self::op(
                TdxStatus::from_name(name)?,
                OperandId::from_name(rest.strip_suffix(')')?)?,
            )),
            None => Some(Self::bare(TdxStatus::from_name(s)?)),
        }
    }
}

impl fmt::Display for TdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operand {
            Some(o) => write!(f, "{:?}({:?})", self.status, o),
            None => write!(f, "{:?}", self.status),
        }
    }
}

impl std::error::Error for TdxError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_module_header() {
        // Values from tdx.md §5.5 / tdx_error_codes_defs.h, typed in independently of the table above.
        let expect: &[(TdxStatus, u64)] = &[
            (TdxStatus::TDX_OPERAND_INVALID, 0xC000010000000000),
            (TdxStatus::TDX_OPERAND_BUSY, 0x8000020000000000),
            (TdxStatus::TDX_PREVIOUS_TLB_EPOCH_BUSY, 0x8000020100000000),
            (TdxStatus::TDX_PAGE_METADATA_INCORRECT, 0xC000030000000000),
            (TdxStatus::TDX_TD_FATAL, 0xE000060400000000),
            (TdxStatus::TDX_OP_STATE_INCORRECT, 0xC000060800000000),
            (TdxStatus::TDX_GPA_RANGE_NOT_BLOCKED, 0xC0000B0600000000),
            (TdxStatus::TDX_TLB_TRACKING_NOT_DONE, 0xC0000B0800000000),
            (TdxStatus::TDX_EPT_ENTRY_STATE_INCORRECT, 0xC0000B0D00000000),
            (TdxStatus::TDX_PAGE_ALREADY_ACCEPTED, 0x00000B0A00000000),
        ];
        for (s, c) in expect {
            assert_eq!(s.code(), *c, "{s:?}");
        }
        // Linux: TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_SEPT.
        assert_eq!(
            TdxError::op(TdxStatus::TDX_TLB_TRACKING_NOT_DONE, OperandId::SEPT_TREE).raw(),
            0xC0000B0800000092
        );
        assert!(!TdxStatus::TDX_GPA_RANGE_ALREADY_BLOCKED.is_error());
        let e = TdxError::op(TdxStatus::TDX_OPERAND_INVALID, OperandId::R9);
        assert_eq!(e.to_string(), "TDX_OPERAND_INVALID(R9)");
        assert_eq!(TdxError::parse("TDX_OPERAND_INVALID(R9)"), Some(e));
    }
}
