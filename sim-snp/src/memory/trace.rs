//! Traces (placeholder filled below).
