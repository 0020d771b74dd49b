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

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any operation with any arguments, on a machine with a running TD, answers without panicking.
    #[test]
    fn any_operation_with_any_arguments_is_answered(
        picks in proptest::collection::vec((0usize..39, proptest::array::uniform4(proptest::prelude::any::<u64>()), 0u8..4), 1..40)
    ) {
        use sim_tdx::memory::lab::{self, Run, POOL, TD_A};
        use sim_tdx::memory::{Config, Op, TdxModule};
        let mut m = TdxModule::new(Config { frames: 64, ..Config::default() }, RuleSet::all());
        let mut r = Run::new(&mut m);
        lab::build(&mut r, &TD_A, 0, &[POOL]);
        let names = [
            "TDH.MNG.CREATE tdr hkid", "TDH.MNG.KEY.CONFIG tdr", "TDH.MNG.ADDCX tdr page",
            "TDH.MNG.INIT tdr attributes", "TDH.VP.CREATE tdr tdvpr", "TDH.VP.INIT tdvpr",
            "TDH.MEM.SEPT.ADD tdr gpa level page", "TDH.MEM.SEPT.REMOVE tdr gpa level",
            "TDH.MEM.SEPT.RD tdr gpa level", "TDH.MEM.PAGE.ADD tdr gpa page source",
            "TDH.MR.EXTEND tdr gpa", "TDH.MR.FINALIZE tdr", "TDH.MEM.PAGE.AUG tdr gpa level page",
            "TDH.MEM.RANGE.BLOCK tdr gpa level", "TDH.MEM.RANGE.UNBLOCK tdr gpa level", "TDH.MEM.TRACK tdr",
            "TDH.MEM.PAGE.REMOVE tdr gpa level", "TDH.MEM.PAGE.RELOCATE tdr gpa page",
            "TDH.MEM.PAGE.DEMOTE tdr gpa level page", "TDH.MEM.PAGE.PROMOTE tdr gpa level",
            "TDH.VP.ENTER tdvpr", "TDH.VP.ENTER+TIMER tdvpr tsc", "TDH.MNG.VPFLUSHDONE tdr",
            "TDH.MNG.KEY.FREEID tdr", "TDH.PHYMEM.PAGE.RECLAIM page", "TDH.PHYMEM.PAGE.WBINVD page",
            "IPI tdvpr", "READ pa keyid len", "WRITE pa keyid byte len", "SHARED.EPT.MAP tdr gpa hpa keyid",
            "LOAD tdvpr gpa", "STORE tdvpr gpa byte", "TDG.MEM.PAGE.ACCEPT tdvpr gpa level",
            "TDG.MR.RTMR.EXTEND tdvpr gpa index", "TDG.MR.REPORT tdvpr gpa data", "TDG.VP.VMCALL tdvpr r11",
            "DRAM.COPYOUT pfn slot", "DRAM.COPYIN pfn slot", "DRAM.FLIP pa bit",
        ];
        for (i, vals, shape) in picks {
            let mut it = names[i].split(' ');
            let mut text = it.next().unwrap().to_string();
            for (k, key) in it.enumerate() {
                // Mostly plausible values (small, page-aligned), sometimes anything.
                let v = match shape {
                    0 => vals[k % 4],
                    1 => vals[k % 4] % 8,
                    _ => (vals[k % 4] % 64) * 0x1000,
                };
                text.push_str(&format!(" {key}={v}"));
            }
            let op = Op::parse(&text).unwrap();
            r.op(op);
        }
        let replay = trace::replay(&trace::to_jsonl(&{
            let mut steps = vec![trace::config_event(&Config { frames: 64, ..Config::default() }, &RuleSet::all())];
            steps.extend(r.steps.iter().cloned());
            steps
        })).unwrap();
        proptest::prop_assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);
    }

    /// Arbitrary text is a trace error, never a panic.
    #[test]
    fn arbitrary_trace_text_is_an_error_not_a_panic(text in "\\PC{0,200}") {
        let _ = trace::replay(&text);
    }
}
