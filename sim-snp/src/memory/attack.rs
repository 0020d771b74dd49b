//! Attack scenarios (placeholder filled below).
