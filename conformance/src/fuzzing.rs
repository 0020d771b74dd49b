//! Fuzz harnesses, one per parser and memory-model state machine. The `fuzz/` targets (cargo-fuzz,
//! libFuzzer) are one-line calls into these functions, and `tests/fuzz_corpus.rs` replays every seed and
//! every saved crash (`vectors/regressions/<target>/`) through them as ordinary tests.
//!
//! A harness panics only when it finds a bug: a parser that panics, an `encode(parse(b)) != b` round
//! trip, or a memory-model invariant broken with every rule enforced.

use sim_core::rules::RuleSet;

/// A fuzz harness.
pub type Harness = fn(&[u8]);

/// The targets, by name (the `fuzz/fuzz_targets/<name>.rs` files).
pub const TARGETS: &[(&str, Harness)] = &[
    ("snp_report", snp_report),
    ("snp_cert_table", snp_cert_table),
    ("snp_ovmf", snp_ovmf),
    ("tdx_quote", tdx_quote),
    ("tdx_tdreport", tdx_tdreport),
    ("tdx_collateral", tdx_collateral),
    ("gpu_spdm", gpu_spdm),
    ("gpu_rim", gpu_rim),
    ("x509", x509),
    ("snp_memory", snp_memory),
    ("tdx_memory", tdx_memory),
];

/// SEV-SNP ATTESTATION_REPORT: parse, show, verify without certificates; parsed bytes re-encode exactly.
pub fn snp_report(data: &[u8]) {
    use zerocopy::IntoBytes;
    if let Ok(r) = sim_snp::report::AttestationReport::parse(data) {
        assert_eq!(
            r.raw.as_bytes(),
            data,
            "a parsed report re-encodes to other bytes"
        );
        let _ = r.to_json(None);
    }
    let ev = sim_snp::verify::Evidence {
        report: data,
        ..Default::default()
    };
    let _ = sim_snp::verify::verify(
        &ev,
        &Default::default(),
        sim_snp::verify::Options { now: 0 },
    );
}

/// The extended-report certificate table.
pub fn snp_cert_table(data: &[u8]) {
    if let Ok(entries) = sim_snp::layout::cert_table::decode(data) {
        // Re-encoding moves blobs to canonical offsets; decoding that gives the same entries.
        let again =
            sim_snp::layout::cert_table::decode(&sim_snp::layout::cert_table::encode(&entries));
        assert_eq!(
            again.as_ref().ok(),
            Some(&entries),
            "cert table does not round-trip"
        );
    }
}

/// An OVMF image: footer table, SEV metadata and the launch plan.
pub fn snp_ovmf(data: &[u8]) {
    let mut img = data.to_vec();
    img.resize(img.len().div_ceil(4096).max(1) * 4096, 0);
    if let Ok(ovmf) = sim_snp::measure::Ovmf::parse(img) {
        let input = sim_snp::measure::MeasureInput {
            ovmf,
            ovmf_hash: None,
            vcpus: 2,
            vcpu_sig: 0x800F12,
            kernel: Some(vec![]),
            initrd: None,
            append: None,
            guest_features: 1,
            vmm: sim_snp::measure::VmmType::Qemu,
        };
        let _ = sim_snp::measure::launch_digest(&input);
    }
}

/// TDX quote v4/v5: parse, verify without collateral; parsed bytes re-encode exactly.
pub fn tdx_quote(data: &[u8]) {
    if let Ok(q) = sim_tdx::quote::Quote::parse(data) {
        assert_eq!(q.encode(), data, "a parsed quote re-encodes to other bytes");
        let _ = sim_tdx::show::quote_json(&q);
    }
    let _ = sim_tdx::verify::verify_quote(
        data,
        None,
        sim_tdx::INTEL_SGX_ROOT_CA_DER,
        0,
        &Default::default(),
    );
}

/// TDREPORT_STRUCT.
pub fn tdx_tdreport(data: &[u8]) {
    let _ = sim_tdx::layout::tdreport::TdReport::parse(data);
    let _ = sim_tdx::show::parse_any(data);
}

/// PCS collateral JSON (QuoteCollateralV3 and the TCB info / QE identity inside).
pub fn tdx_collateral(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sim_tdx::collateral::Collateral::from_json(text);
    }
}

/// SPDM GET_MEASUREMENTS request ‖ response.
pub fn gpu_spdm(data: &[u8]) {
    if let Ok(r) = sim_gpu::layout::Report::parse(data) {
        let _ = sim_gpu::show::show_json(&r);
        let _ = sim_gpu::rim::rim_ids(&r);
    }
}

/// RIM XML (SWID with XML-DSig).
pub fn gpu_rim(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sim_gpu::rim::Rim::parse(text);
        let _ = sim_gpu::verify::check_rim(text, &[], 0);
    }
}

/// X.509 certificates and the AMD extensions read from them.
pub fn x509(data: &[u8]) {
    if let Ok(c) = <x509_cert::Certificate as der::Decode>::from_der(data) {
        let _ = sim_snp::pki::read_vek_extensions(&c);
    }
    let _ = sim_core::x509::split_signed(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sim_core::x509::pem_certs(text);
    }
}

/// Bytes as a random stream (then zeros), so the fuzzer steers the memory models' operation generators.
struct ByteStream<'a> {
    data: &'a [u8],
    at: usize,
}

impl rand_core::RngCore for ByteStream<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            *d = self.data.get(self.at).copied().unwrap_or(0);
            self.at += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// The SNP memory model: the input picks hypervisor, guest and AMD-SP operations; with every rule on,
/// no invariant may break.
pub fn snp_memory(data: &[u8]) {
    let mut s = ByteStream { data, at: 0 };
    let n = (data.len() / 8).clamp(1, 64);
    let ops: Vec<_> = (0..n)
        .map(|_| sim_snp::memory::fuzz::random_op(&mut s))
        .collect();
    if let Err(v) = sim_snp::memory::fuzz::run_case(&RuleSet::all(), 0, &ops) {
        panic!("SNP memory invariant {} broken: {}", v.invariant, v.detail);
    }
}

/// The TDX memory model: the input picks the mode, setup and SEAMCALL/TDCALL operations; with every
/// rule on, no invariant may break.
pub fn tdx_memory(data: &[u8]) {
    let choices: Vec<u32> = data
        .chunks(2)
        .map(|c| u32::from(c[0]) | (u32::from(*c.get(1).unwrap_or(&0)) << 8))
        .collect();
    let mut c = sim_tdx::memory::fuzz::ListChoices::new(&choices);
    if let Some(v) = sim_tdx::memory::fuzz::run_choices(&mut c, &RuleSet::all(), 0) {
        panic!("TDX memory invariant {} broken: {}", v.invariant, v.detail);
    }
}
