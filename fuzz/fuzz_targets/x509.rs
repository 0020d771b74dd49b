#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conformance::fuzzing::x509(data));
