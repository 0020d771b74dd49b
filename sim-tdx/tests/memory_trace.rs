//! JSON-lines traces: attack scenarios and fuzz counterexamples replay to the same results.
#![allow(clippy::unwrap_used)]

use sim_core::rules::RuleSet;
use sim_tdx::memory::rules::CATALOGUE;
use sim_tdx::memory::{attack, fuzz, trace};

#[test]
fn every_attack_trace_replays_identically() {
    for s in attack::SCENARIOS {
        let r = attack::run(s, &RuleSet::all());
        let text = trace::to_jsonl(&r.steps);
        let rep = trace::replay(&text).unwrap();
        assert!(
            rep.mismatches.is_empty(),
            "{}: {:?}",
            s.name,
            rep.mismatches
        );
        assert!(rep.replayed > 10, "{}", s.name);
    }
}

#[test]
fn a_counterexample_replays_with_its_disabled_rule() {
    let rules = RuleSet::with_disabled(CATALOGUE, &["TDX-TLB-TRACKED"]).unwrap();
    let v = fuzz::run(300, 0, &rules, |_| {}).violation.unwrap();
    let text = trace::to_jsonl(&v.trace);
    assert!(text
        .lines()
        .next()
        .unwrap()
        .contains("disabled=TDX-TLB-TRACKED"));
    let rep = trace::replay(&text).unwrap();
    assert!(rep.mismatches.is_empty(), "{:?}", rep.mismatches);
}

#[test]
fn a_tampered_result_is_a_mismatch_and_bad_lines_are_errors() {
    let r = attack::run(
        attack::find("remove-without-block").unwrap(),
        &RuleSet::all(),
    );
    let text = trace::to_jsonl(&r.steps).replace("TDX_GPA_RANGE_NOT_BLOCKED(RCX)", "TDX_SUCCESS");
    let rep = trace::replay(&text).unwrap();
    assert_eq!(rep.mismatches.len(), 1);
    assert_eq!(rep.mismatches[0].replayed, "TDX_GPA_RANGE_NOT_BLOCKED(RCX)");

    let e = trace::replay("{\"actor\":\"host\"}\n").unwrap_err();
    assert_eq!(e.line, 1);
    let bad = "{\"actor\":\"platform\",\"op\":\"CONFIG integrity=Cryptographic seed=0 frames=64 disabled=\",\"result\":\"configured\"}\n{\"actor\":\"host\",\"op\":\"TDH.NOPE\",\"result\":\"x\"}\n";
    assert_eq!(trace::replay(bad).unwrap_err().line, 2);
    let unknown_rule = "{\"actor\":\"platform\",\"op\":\"CONFIG integrity=Logical seed=0 frames=64 disabled=NOPE\",\"result\":\"configured\"}\n";
    assert!(trace::replay(unknown_rule).is_err());
}

#[test]
fn committed_traces_replay_identically() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/tdx/traces");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let rep = trace::replay(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert!(
            rep.mismatches.is_empty(),
            "{}: {:?}",
            p.display(),
            rep.mismatches
        );
        n += 1;
    }
    assert!(n >= 17, "{n} traces");
}

#[test]
fn committed_attack_traces_are_what_the_scenarios_record() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/tdx/traces");
    for s in attack::SCENARIOS {
        let committed =
            std::fs::read_to_string(dir.join(format!("attack-{}.jsonl", s.name))).unwrap();
        let now = trace::to_jsonl(&attack::run(s, &RuleSet::all()).steps);
        assert_eq!(
            committed, now,
            "{} (regenerate with `cvmsim tdx trace record`)",
            s.name
        );
    }
}
