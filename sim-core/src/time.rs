//! Time: `--now RFC3339` for verifiers, and the fixed issue epoch for generated evidence.
//!
//! Rule for issued certificates and collateral: they are issued at [`ISSUE_EPOCH`] unless a command is
//! given an explicit time, so that the same seed gives the same bytes on every day. Validity periods are
//! long enough (the vendors' own: 25 years for roots, 7 for a VCEK) that evidence issued at the epoch
//! verifies today; verifiers check against the system clock unless given `--now`.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

/// Default issue time of every simulated certificate and collateral: 2025-01-01T00:00:00Z.
pub const ISSUE_EPOCH: i64 = 1_735_689_600;

/// Parses an RFC 3339 time (`2024-05-01T00:00:00Z`) to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn to_rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// The system clock, in Unix seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00Z").unwrap(), ISSUE_EPOCH);
        assert_eq!(to_rfc3339(ISSUE_EPOCH), "2025-01-01T00:00:00Z");
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
