//! The proptest state machine: arbitrary interleavings of hypervisor, guest and AMD-SP operations keep
//! every invariant with all rules on (shrinking gives a minimal counterexample otherwise); the
//! operation text round-trips; the CLI fuzzer is deterministic.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sim_core::rules::RuleSet;
use sim_snp::memory::fuzz::{self, FuzzOp};
use sim_snp::memory::op::Op;

fn fuzz_op() -> impl Strategy<Value = FuzzOp> {
    let b = any::<u8>;
    prop_oneof![
        1 => (b(), b(), b(), any::<bool>()).prop_map(|(g, gpa, spa, big)| FuzzOp::Map { g, gpa, spa, big }),
        1 => (b(), b(), b()).prop_map(|(g, gpa, spa)| FuzzOp::Convert { g, gpa, spa }),
        1 => (b(), b(), b(), any::<bool>(), any::<bool>()).prop_map(|(spa, owner, gpa, big, immutable)| {
            FuzzOp::RmpUpdate { spa, owner, gpa, big, immutable }
        }),
        1 => b().prop_map(|spa| FuzzOp::Psmash { spa }),
        1 => (b(), b(), any::<u16>()).prop_map(|(spa, block, seed)| FuzzOp::HostWrite { spa, block, seed }),
        1 => b().prop_map(|spa| FuzzOp::HostRead { spa }),
        1 => b().prop_map(|spa| FuzzOp::HostReplay { spa }),
        1 => (b(), b(), b()).prop_map(|(spa, g, gpa)| FuzzOp::ForgeRmp { spa, g, gpa }),
        1 => b().prop_map(|spa| FuzzOp::Reclaim { spa }),
        1 => (b(), b(), b()).prop_map(|(g, src, dst)| FuzzOp::Move { g, src, dst }),
        1 => (b(), b()).prop_map(|(g, spa)| FuzzOp::SwapOut { g, spa }),
        1 => (b(), b(), b()).prop_map(|(g, slot, dst)| FuzzOp::SwapIn { g, slot, dst }),
        1 => (b(), b(), any::<bool>(), any::<bool>())
            .prop_map(|(g, gpa, big, validate)| FuzzOp::Validate { g, gpa, big, validate }),
        4 => (b(), 0..4u8, b(), b(), any::<bool>(), any::<u16>()).prop_map(
            |(g, vmpl, gpa, block, private, seed)| FuzzOp::Write { g, vmpl, gpa, block, private, seed }
        ),
        4 => (b(), 0..4u8, b(), b(), any::<bool>())
            .prop_map(|(g, vmpl, gpa, block, private)| FuzzOp::Read { g, vmpl, gpa, block, private }),
        1 => (b(), 0..4u8, b(), 0..4u8, b())
            .prop_map(|(g, vmpl, gpa, target, perms)| FuzzOp::Adjust { g, vmpl, gpa, target, perms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_with_all_rules(seed in any::<u64>(), ops in prop::collection::vec(fuzz_op(), 1..48)) {
        if let Err(v) = fuzz::run_case(&RuleSet::all(), seed, &ops) {
            let trace: Vec<String> = v.trace.iter().map(|e| format!("{} {} -> {}", e.actor, e.op, e.result)).collect();
            prop_assert!(false, "{}: {}\n{}", v.invariant, v.detail, trace.join("\n"));
        }
    }

    #[test]
    fn every_traced_op_round_trips(seed in 0..50u64, case in 0..20u64) {
        let trace = match fuzz::run_case(&RuleSet::all(), seed, &fuzz::case_ops(seed, case)) {
            Ok(t) => t,
            Err(v) => v.trace,
        };
        for ev in trace.iter().filter(|e| e.actor != "platform") {
            let op = Op::parse(&ev.actor, &ev.op).map_err(TestCaseError::fail)?;
            prop_assert_eq!(op.to_string(), ev.op.clone());
            prop_assert_eq!(op.actor().to_string(), ev.actor.clone());
        }
    }
}

#[test]
fn cli_fuzzer_is_deterministic_and_clean() {
    let a = fuzz::fuzz(300, 7, &RuleSet::all(), |_| {});
    assert!(a.violation.is_none(), "{:?}", a.violation);
    assert_eq!(a.cases, 300);
    assert_eq!(fuzz::case_ops(7, 3), fuzz::case_ops(7, 3));
    assert_ne!(fuzz::case_ops(7, 3), fuzz::case_ops(8, 3));
}

#[test]
fn violations_carry_the_trace_that_led_to_them() {
    let rules =
        RuleSet::with_disabled(sim_snp::memory::rules::RULES, &["SNP-MEM-ENCRYPT"]).unwrap();
    let rep = fuzz::fuzz(100, 0, &rules, |_| {});
    let v = rep.violation.expect("plaintext in DRAM must be found");
    assert_eq!(v.invariant, "confidentiality");
    assert_eq!(v.trace[0].actor, "platform");
    assert!(v
        .trace
        .iter()
        .any(|e| e.op.starts_with("SNP_LAUNCH_UPDATE")));
}

#[test]
fn bad_op_text_is_an_error_not_a_panic() {
    for (a, o) in [
        ("host", "RMPUPDATE spa=0x1000"),
        ("host", "WRITE spa=zz data=00"),
        ("guest1@vmpl9", "READ gpa=0 c=1 len=4"),
        ("guest", "READ gpa=0 c=1 len=4"),
        ("sp", "WRITE spa=0 data=00"),
        ("host", ""),
        ("host", "READ spa=0x0 len=99999999999999999999"),
        ("guest1@vmpl0", "RMPADJUST gpa=0 size=4K vmpl=300 perms=1"),
    ] {
        assert!(Op::parse(a, o).is_err(), "{a} {o}");
    }
}
