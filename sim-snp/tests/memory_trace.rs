//! Traces: recorded runs replay with identical results; a changed result is reported; the committed
//! traces in `vectors/snp/traces/` replay on the current model.

#![allow(clippy::unwrap_used)]

use sim_core::rules::RuleSet;
use sim_snp::memory::attack::SCENARIOS;
use sim_snp::memory::{fuzz, rules, trace};

fn replay_text(text: &str, rules: &RuleSet) -> trace::ReplayReport {
    let events = trace::parse_json_lines(text).unwrap();
    trace::replay(&events, rules).unwrap()
}

#[test]
fn committed_traces_replay_without_mismatch() {
    for (name, text) in [
        (
            "write-replay",
            include_str!("../../vectors/snp/traces/write-replay.jsonl"),
        ),
        (
            "heracles-page-swap",
            include_str!("../../vectors/snp/traces/heracles-page-swap.jsonl"),
        ),
        (
            "badram-alias-checked",
            include_str!("../../vectors/snp/traces/badram-alias-checked.jsonl"),
        ),
        (
            "fuzz-seed0-case0",
            include_str!("../../vectors/snp/traces/fuzz-seed0-case0.jsonl"),
        ),
    ] {
        let rep = replay_text(text, &RuleSet::all());
        assert!(rep.events > 0, "{name}");
        assert!(rep.mismatches.is_empty(), "{name}: {:?}", rep.mismatches);
    }
    // The committed write-replay trace records the #PF of the replay write.
    assert!(include_str!("../../vectors/snp/traces/write-replay.jsonl")
        .contains(r##""result":"#PF err=0x80000003""##));
}

#[test]
fn record_then_replay_is_identical_for_scenarios_and_fuzz_cases() {
    let all = RuleSet::all();
    for s in SCENARIOS {
        let text = trace::to_json_lines(&s.run(&all).steps);
        let rep = replay_text(&text, &all);
        assert!(
            rep.mismatches.is_empty(),
            "{}: {:?}",
            s.name,
            rep.mismatches
        );
    }
    for case in 0..30 {
        let t = fuzz::run_case(&all, 3, &fuzz::case_ops(3, case)).unwrap();
        let rep = replay_text(&trace::to_json_lines(&t), &all);
        assert_eq!(rep.events, t.len());
        assert!(
            rep.mismatches.is_empty(),
            "case {case}: {:?}",
            rep.mismatches
        );
    }
}

#[test]
fn a_model_that_behaves_differently_is_reported() {
    let text = include_str!("../../vectors/snp/traces/write-replay.jsonl");
    let off = RuleSet::with_disabled(rules::RULES, &[rules::HOST_WRITE]).unwrap();
    let rep = replay_text(text, &off);
    assert_eq!(rep.mismatches.len(), 2, "{:?}", rep.mismatches);
    assert_eq!(rep.mismatches[0].recorded.result, "#PF err=0x80000003");
    assert_eq!(rep.mismatches[0].replayed, "ok");
    // A tampered recorded result is caught too.
    let tampered = text.replacen("\"result\":\"ok\"", "\"result\":\"FAIL_INPUT\"", 1);
    assert_eq!(replay_text(&tampered, &RuleSet::all()).mismatches.len(), 1);
}

#[test]
fn malformed_traces_are_errors_with_the_line() {
    let e = trace::parse_json_lines("{\"actor\":\"host\"}\n").unwrap_err();
    assert_eq!(e.line, 1);
    let ev = trace::parse_json_lines(
        "{\"actor\":\"host\",\"op\":\"READ spa=0 len=4\",\"result\":\"ok\"}\n",
    )
    .unwrap();
    // An operation before any platform event.
    assert!(trace::replay(&ev, &RuleSet::all()).is_err());
    let ev = trace::parse_json_lines(
        "{\"actor\":\"platform\",\"op\":\"SNP_INIT product=vax\",\"result\":\"ok\"}\n",
    )
    .unwrap();
    assert!(trace::replay(&ev, &RuleSet::all()).is_err());
}

#[test]
fn hostile_trace_values_are_results_not_hangs() {
    let lines = "{\"actor\":\"platform\",\"op\":\"SNP_INIT product=genoa seed=0 mem_top=0xffffffffffffffff alias_check=1 badram=0\",\"result\":\"ok platform_info=0x20\"}\n";
    let rep = replay_text(lines, &RuleSet::all());
    assert_eq!(rep.mismatches.len(), 1);
    assert!(rep.mismatches[0].replayed.contains("INVALID_CONFIG"));
    let lines = concat!(
        "{\"actor\":\"platform\",\"op\":\"SNP_INIT product=genoa seed=0 mem_top=0x40000000 alias_check=1 badram=0\",\"result\":\"ok platform_info=0x20\"}\n",
        "{\"actor\":\"guest1@vmpl0\",\"op\":\"READ gpa=0x0 c=1 len=1152921504606846976\",\"result\":\"FAIL_INPUT\"}\n",
        "{\"actor\":\"host\",\"op\":\"READ spa=0xfffffffffffff000 len=4096\",\"result\":\"ok\"}\n",
        "{\"actor\":\"sp\",\"op\":\"SNP_PAGE_SWAP_IN asid=1 slot=18446744073709551615 dst=0x0\",\"result\":\"INVALID_GUEST\"}\n",
    );
    let rep = replay_text(lines, &RuleSet::all());
    assert_eq!(rep.events, 4);
    // Only the host read's data differs from the (deliberately wrong) recorded "ok".
    assert_eq!(rep.mismatches.len(), 1, "{:?}", rep.mismatches);
}
