//! Every named scenario gives real hardware's outcome (snp.md §6), blocked ones by the rule snp.md §4.6
//! names, and switching that rule off lets the attack through.

#![allow(clippy::unwrap_used)]

use sim_core::rules::RuleSet;
use sim_core::scenario::Outcome;
use sim_snp::memory::attack::{find, SCENARIOS};
use sim_snp::memory::rules as r;

/// (scenario, what real hardware does, the rule that stops it) — snp.md §4.6 and §6.
const EXPECTED: &[(&str, Outcome, Option<&str>)] = &[
    ("remap-other-address", Outcome::Blocked, Some(r::VALIDATED)),
    ("remap-other-guest", Outcome::Blocked, Some(r::GUEST_OWNED)),
    ("write-replay", Outcome::Blocked, Some(r::HOST_WRITE)),
    ("alias-mapping", Outcome::Blocked, Some(r::REVERSE_MAP)),
    (
        "rmpupdate-behind-back",
        Outcome::Blocked,
        Some(r::VALIDATED),
    ),
    ("vmpl-escalation", Outcome::Blocked, Some(r::VMPL)),
    ("page-size-mismatch", Outcome::Blocked, Some(r::PAGE_SIZE)),
    ("swap-out-write", Outcome::Blocked, Some(r::MUTABLE)),
    ("uncovered-forged-rmp", Outcome::Blocked, Some(r::COVERED)),
    ("heracles-page-swap", Outcome::Succeeded, None),
    (
        "heracles-page-swap-disabled",
        Outcome::Blocked,
        Some(r::PAGE_SWAP_DISABLE),
    ),
    ("badram-alias", Outcome::Succeeded, None),
    (
        "badram-alias-checked",
        Outcome::Blocked,
        Some(r::ALIAS_CHECK),
    ),
    ("cipherleaks", Outcome::Succeeded, None),
];

#[test]
fn every_scenario_gives_the_hardware_outcome() {
    assert_eq!(SCENARIOS.len(), EXPECTED.len());
    for (name, outcome, rule) in EXPECTED {
        let s = find(name).unwrap_or_else(|| panic!("no scenario {name}"));
        assert_eq!(s.expected, *outcome, "{name}: catalogue expectation");
        let rep = s.run(&RuleSet::all());
        assert_eq!(rep.outcome, *outcome, "{name}\n{}", rep.render_human());
        assert_eq!(rep.rule.as_deref(), *rule, "{name}\n{}", rep.render_human());
        assert!(rep.matches_hardware());
    }
}

#[test]
fn switching_the_blocking_rule_off_lets_the_attack_through() {
    for (name, _, rule) in EXPECTED {
        let Some(rule) = rule else { continue };
        let rules = RuleSet::with_disabled(r::RULES, &[*rule]).unwrap();
        let rep = find(name).unwrap().run(&rules);
        assert_eq!(
            rep.outcome,
            Outcome::Succeeded,
            "{name} without {rule}\n{}",
            rep.render_human()
        );
        assert!(!rep.matches_hardware());
    }
}

#[test]
fn rmpupdate_and_rmpadjust_rules_are_what_stop_their_scenarios() {
    let off = |id: &str| RuleSet::with_disabled(r::RULES, &[id]).unwrap();
    let rep = find("rmpupdate-behind-back")
        .unwrap()
        .run(&off(r::RMPUPDATE_CLEARS_VALIDATED));
    assert_eq!(rep.outcome, Outcome::Succeeded, "{}", rep.render_human());
    let rep = find("vmpl-escalation")
        .unwrap()
        .run(&off(r::RMPADJUST_NO_ESCALATE));
    assert_eq!(rep.outcome, Outcome::Succeeded, "{}", rep.render_human());
    let rep = find("write-replay").unwrap().run(&off(r::MEM_ENCRYPT));
    // Without encryption the replayed bytes are plaintext; the host write is still refused.
    assert_eq!(rep.outcome, Outcome::Blocked);
}

fn step_result<'a>(rep: &'a sim_core::scenario::AttackReport, op_prefix: &str) -> Vec<&'a str> {
    rep.steps
        .iter()
        .filter(|s| s.op.starts_with(op_prefix))
        .map(|s| s.result.as_str())
        .collect()
}

#[test]
fn steps_show_the_architectural_results() {
    let all = RuleSet::all();
    let rep = find("write-replay").unwrap().run(&all);
    assert!(step_result(&rep, "WRITE spa=0x200000").contains(&"#PF err=0x80000003"));
    let rep = find("remap-other-address").unwrap().run(&all);
    assert_eq!(
        step_result(&rep, "READ gpa=0x1000").last(),
        Some(&"#VC 0x404")
    );
    let rep = find("rmpupdate-behind-back").unwrap().run(&all);
    assert_eq!(
        step_result(&rep, "READ gpa=0x1000").last(),
        Some(&"#VC 0x404")
    );
    let rep = find("alias-mapping").unwrap().run(&all);
    // P|W|U, RMP (31), FINAL (32), ENC (34).
    assert_eq!(
        step_result(&rep, "WRITE gpa=0x5000"),
        vec!["#VMEXIT(NPF) exitinfo1=0x580000007 gpa=0x5000"]
    );
    let rep = find("vmpl-escalation").unwrap().run(&all);
    // ... and VMPL (36).
    assert_eq!(
        step_result(&rep, "WRITE gpa=0x1000"),
        vec!["#VMEXIT(NPF) exitinfo1=0x1580000007 gpa=0x1000"; 2]
    );
    assert_eq!(step_result(&rep, "RMPADJUST"), vec!["FAIL_PERMISSION"]);
    let rep = find("heracles-page-swap-disabled").unwrap().run(&all);
    assert_eq!(step_result(&rep, "SNP_PAGE_MOVE"), vec!["POLICY_FAILURE"]);
    let rep = find("badram-alias").unwrap().run(&all);
    assert_eq!(rep.steps[0].result, "ok platform_info=0x0");
    let rep = find("heracles-page-swap").unwrap().run(&all);
    assert_eq!(rep.steps[0].result, "ok platform_info=0x20");
}

#[test]
fn reports_serialise_as_the_cli_contract() {
    let rep = find("write-replay").unwrap().run(&RuleSet::all());
    let v: serde_json::Value = serde_json::to_value(&rep).unwrap();
    assert_eq!(v["scenario"], "write-replay");
    assert_eq!(v["expected"], "blocked");
    assert_eq!(v["outcome"], "blocked");
    assert_eq!(v["rule"], "SNP-RMP-HOST-WRITE");
    assert!(v["steps"][0]["actor"].is_string());
}
