//! Parse errors that name the field, the byte offset and the rule, and a bounds-checked reader.

use thiserror::Error;

/// What was wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input ended before the field did.
    #[error("truncated: needs {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the structure needs from the start of the field.
        needed: usize,
        /// Bytes the input has from the start of the field.
        available: usize,
    },
    /// Bytes were left after the structure ended.
    #[error("{len} trailing bytes after the structure")]
    TrailingData {
        /// Number of trailing bytes.
        len: usize,
    },
    /// A reserved, must-be-zero range holds a non-zero byte.
    #[error(
        "reserved range of {len} bytes is not zero (first non-zero byte at 0x{first_nonzero:x})"
    )]
    ReservedNonZero {
        /// Length of the reserved range.
        len: usize,
        /// Absolute offset of the first non-zero byte.
        first_nonzero: usize,
    },
    /// A field holds a value the spec does not allow.
    #[error("invalid value {value}: {rule}")]
    InvalidValue {
        /// The value as read (hex or decimal).
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A length field disagrees with the data.
    #[error("bad length {value}: {rule}")]
    BadLength {
        /// The length as read.
        value: u64,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// An encoding (DER, PEM, hex, base64, JSON, XML) could not be decoded.
    #[error("malformed encoding: {0}")]
    Malformed(String),
}

/// A parse failure: which field, at which byte offset, and why.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{field} at offset 0x{offset:x}: {kind}")]
pub struct ParseError {
    /// Spec name of the field (or structure) that failed.
    pub field: &'static str,
    /// Absolute byte offset of the field in the input.
    pub offset: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

impl ParseError {
    /// Builds an error.
    pub fn new(field: &'static str, offset: usize, kind: ParseErrorKind) -> Self {
        ParseError {
            field,
            offset,
            kind,
        }
    }

    /// `field` at `offset` needs `needed` bytes but only `available` remain.
    pub fn truncated(field: &'static str, offset: usize, needed: usize, available: usize) -> Self {
        Self::new(
            field,
            offset,
            ParseErrorKind::Truncated { needed, available },
        )
    }

    /// `field` at `offset` holds `value`, which breaks `rule`.
    pub fn invalid(
        field: &'static str,
        offset: usize,
        value: impl std::fmt::Display,
        rule: &'static str,
    ) -> Self {
        Self::new(
            field,
            offset,
            ParseErrorKind::InvalidValue {
                value: value.to_string(),
                rule,
            },
        )
    }

    /// `field` at `offset` could not be decoded.
    pub fn malformed(field: &'static str, offset: usize, what: impl std::fmt::Display) -> Self {
        Self::new(field, offset, ParseErrorKind::Malformed(what.to_string()))
    }
}

/// Checks that `bytes[range]` is all zero; `base` is the absolute offset of `bytes[0]`.
///
/// Returns [`ParseErrorKind::Truncated`] if the range is out of bounds.
pub fn check_mbz(
    field: &'static str,
    bytes: &[u8],
    base: usize,
    range: std::ops::Range<usize>,
) -> Result<(), ParseError> {
    let slice = bytes.get(range.clone()).ok_or_else(|| {
        ParseError::truncated(
            field,
            base + range.start,
            range.len(),
            bytes.len().saturating_sub(range.start),
        )
    })?;
    match slice.iter().position(|b| *b != 0) {
        None => Ok(()),
        Some(i) => Err(ParseError::new(
            field,
            base + range.start,
            ParseErrorKind::ReservedNonZero {
                len: range.len(),
                first_nonzero: base + range.start + i,
            },
        )),
    }
}

/// A cursor over bytes that never reads out of bounds; offsets in its errors are absolute.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, whose first byte is at absolute offset 0.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader over `buf`, whose first byte is at absolute offset `base`.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes `n` bytes for `field`.
    pub fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], ParseError> {
        if self.remaining() < n {
            return Err(ParseError::truncated(
                field,
                self.offset(),
                n,
                self.remaining(),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes `N` bytes for `field` as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ParseError> {
        let s = self.take(field, N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16_le(&mut self, field: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian 24-bit integer.
    pub fn u24_le(&mut self, field: &'static str) -> Result<u32, ParseError> {
        let a: [u8; 3] = self.array(field)?;
        Ok(u32::from(a[0]) | (u32::from(a[1]) << 8) | (u32::from(a[2]) << 16))
    }

    /// Reads a little-endian `u32`.
    pub fn u32_le(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64_le(&mut self, field: &'static str) -> Result<u64, ParseError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Reads `n` bytes that must all be zero.
    pub fn mbz(&mut self, field: &'static str, n: usize) -> Result<(), ParseError> {
        let start = self.pos;
        self.take(field, n)?;
        check_mbz(field, self.buf, self.base, start..start + n)
    }

    /// Fails with [`ParseErrorKind::TrailingData`] if any byte is left.
    pub fn finish(&self, structure: &'static str) -> Result<(), ParseError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(ParseError::new(
                structure,
                self.offset(),
                ParseErrorKind::TrailingData {
                    len: self.remaining(),
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbz_names_the_first_nonzero_byte() {
        let mut b = [0u8; 16];
        b[9] = 1;
        let e = check_mbz("RSVD", &b, 0x100, 4..16).unwrap_err();
        assert_eq!(e.offset, 0x104);
        assert_eq!(
            e.kind,
            ParseErrorKind::ReservedNonZero {
                len: 12,
                first_nonzero: 0x109
            }
        );
        assert!(check_mbz("RSVD", &b, 0, 0..9).is_ok());
        assert!(matches!(
            check_mbz("RSVD", &b, 0, 10..20).unwrap_err().kind,
            ParseErrorKind::Truncated { .. }
        ));
    }

    #[test]
    fn reader_reports_absolute_offsets() {
        let b = [1u8, 0, 2, 0, 0, 0, 7];
        let mut r = Reader::with_base(&b, 0x40);
        assert_eq!(r.u16_le("A").unwrap(), 1);
        assert_eq!(r.u32_le("B").unwrap(), 2);
        let e = r.u16_le("C").unwrap_err();
        assert_eq!(e.field, "C");
        assert_eq!(e.offset, 0x46);
        assert_eq!(
            e.kind,
            ParseErrorKind::Truncated {
                needed: 2,
                available: 1
            }
        );
        let e = r.finish("S").unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TrailingData { len: 1 });
    }
}
