//! Firmware status codes — SEV-SNP ABI 56860 Table 27 (snp.md §5.5).

/// A firmware status other than SUCCESS. Names are the spec's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[allow(non_camel_case_types)]
#[non_exhaustive]
pub enum FwStatus {
    /// 0x01.
    #[error("INVALID_PLATFORM_STATE (0x01)")]
    INVALID_PLATFORM_STATE,
    /// 0x02.
    #[error("INVALID_GUEST_STATE (0x02)")]
    INVALID_GUEST_STATE,
    /// 0x04.
    #[error("INVALID_LENGTH (0x04)")]
    INVALID_LENGTH,
    /// 0x07.
    #[error("POLICY_FAILURE (0x07): {0}")]
    POLICY_FAILURE(&'static str),
    /// 0x09.
    #[error("INVALID_ADDRESS (0x09)")]
    INVALID_ADDRESS,
    /// 0x0A.
    #[error("BAD_SIGNATURE (0x0A): {0}")]
    BAD_SIGNATURE(&'static str),
    /// 0x0B.
    #[error("BAD_MEASUREMENT (0x0B)")]
    BAD_MEASUREMENT,
    /// 0x15.
    #[error("UNSUPPORTED (0x15)")]
    UNSUPPORTED,
    /// 0x16.
    #[error("INVALID_PARAM (0x16): {0}")]
    INVALID_PARAM(&'static str),
    /// 0x1D.
    #[error("AEAD_OFLOW (0x1D)")]
    AEAD_OFLOW,
    /// 0x21.
    #[error("BAD_SVN (0x21)")]
    BAD_SVN,
    /// 0x27.
    #[error("INVALID_KEY (0x27): {0}")]
    INVALID_KEY(&'static str),
}

impl FwStatus {
    /// The numeric status.
    pub fn code(self) -> u32 {
        match self {
            FwStatus::INVALID_PLATFORM_STATE => 0x01,
            FwStatus::INVALID_GUEST_STATE => 0x02,
            FwStatus::INVALID_LENGTH => 0x04,
            FwStatus::POLICY_FAILURE(_) => 0x07,
            FwStatus::INVALID_ADDRESS => 0x09,
            FwStatus::BAD_SIGNATURE(_) => 0x0A,
            FwStatus::BAD_MEASUREMENT => 0x0B,
            FwStatus::UNSUPPORTED => 0x15,
            FwStatus::INVALID_PARAM(_) => 0x16,
            FwStatus::AEAD_OFLOW => 0x1D,
            FwStatus::BAD_SVN => 0x21,
            FwStatus::INVALID_KEY(_) => 0x27,
        }
    }
}
