#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conformance::fuzzing::snp_report(data));
