//! Hex command-line arguments: upper or lower case, no `0x`; shorter than the field is zero-padded on
//! the right, longer is an error (`cli.md`).

/// A hex argument that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HexArgError {
    /// Not hex digits (or an odd count).
    #[error("{arg}: not an even number of hex digits: {reason}")]
    NotHex {
        /// Argument name.
        arg: String,
        /// Decoder message.
        reason: String,
    },
    /// More bytes than the field holds.
    #[error("{arg}: {got} bytes is longer than the {max}-byte field")]
    TooLong {
        /// Argument name.
        arg: String,
        /// Bytes given.
        got: usize,
        /// Field size.
        max: usize,
    },
}

/// Decodes `s` into exactly `N` bytes, zero-padding on the right.
pub fn fixed<const N: usize>(arg: &str, s: &str) -> Result<[u8; N], HexArgError> {
    let v = any(arg, s)?;
    if v.len() > N {
        return Err(HexArgError::TooLong {
            arg: arg.into(),
            got: v.len(),
            max: N,
        });
    }
    let mut out = [0u8; N];
    out[..v.len()].copy_from_slice(&v);
    Ok(out)
}

/// Decodes `s` (an optional `0x` prefix is refused, as the contract says: no `0x`).
pub fn any(arg: &str, s: &str) -> Result<Vec<u8>, HexArgError> {
    hex::decode(s.trim()).map_err(|e| HexArgError::NotHex {
        arg: arg.into(),
        reason: e.to_string(),
    })
}

/// Parses an integer given in hex (with or without `0x`, as policies are usually written) or decimal
/// (`d` suffix-free digits are read as hex when they start with `0x`, else as decimal).
pub fn u64_value(arg: &str, s: &str) -> Result<u64, HexArgError> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        u64::from_str_radix(t, 16)
    };
    r.map_err(|e| HexArgError::NotHex {
        arg: arg.into(),
        reason: e.to_string(),
    })
}

/// Decodes a hex literal at compile time into `N` bytes; `-` separators (as in GUIDs) are skipped.
/// Digits beyond `N` bytes are ignored and missing ones are zero, so it is meant for literals written in
/// the source, not for input.
pub const fn decode_const<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    let mut nibbles = 0;
    while i < b.len() && nibbles < 2 * N {
        let v = match b[i] {
            b'0'..=b'9' => Some(b[i] - b'0'),
            b'a'..=b'f' => Some(b[i] - b'a' + 10),
            b'A'..=b'F' => Some(b[i] - b'A' + 10),
            _ => None,
        };
        if let Some(v) = v {
            if nibbles % 2 == 0 {
                out[nibbles / 2] = v << 4;
            } else {
                out[nibbles / 2] |= v;
            }
            nibbles += 1;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_decoding_skips_separators() {
        const G: [u8; 4] = decode_const("c0b4-06A4");
        assert_eq!(G, [0xc0, 0xb4, 0x06, 0xa4]);
    }

    #[test]
    fn pads_right_and_refuses_long() {
        assert_eq!(fixed::<4>("x", "AbCd").unwrap(), [0xab, 0xcd, 0, 0]);
        assert!(matches!(
            fixed::<1>("x", "abcd"),
            Err(HexArgError::TooLong { got: 2, max: 1, .. })
        ));
        assert!(matches!(
            fixed::<4>("x", "abc"),
            Err(HexArgError::NotHex { .. })
        ));
        assert_eq!(u64_value("p", "30000").unwrap(), 0x30000);
        assert_eq!(u64_value("p", "0x3001F").unwrap(), 0x3001f);
    }
}
