//! JSON-lines traces (record and replay).
