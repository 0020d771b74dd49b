//! Every rule is necessary: with that rule alone switched off, the fuzzer (within a bounded number of
//! cases) or a named scenario finds a violation.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use sim_core::rules::RuleSet;
use sim_snp::memory::attack::SCENARIOS;
use sim_snp::memory::{fuzz, rules as r};

/// Cases the fuzzer may take to find each violation (seed 0; the numbers actually needed are far lower
/// for most rules).
const BOUND: u64 = 3000;

fn off(id: &str) -> RuleSet {
    RuleSet::with_disabled(r::RULES, &[id]).unwrap()
}

#[test]
fn catalogue_ids_are_unique_and_cited() {
    let ids: BTreeSet<_> = r::RULES.iter().map(|x| x.id).collect();
    assert_eq!(ids.len(), r::RULES.len());
    for rule in r::RULES {
        assert!(rule.id.starts_with("SNP-"), "{}", rule.id);
        assert!(!rule.spec.is_empty() && !rule.description.is_empty());
    }
}

#[test]
fn every_rule_off_is_caught_by_the_fuzzer_or_a_scenario() {
    let mut uncaught = Vec::new();
    for rule in r::RULES {
        let rules = off(rule.id);
        let by_scenario = SCENARIOS
            .iter()
            .find(|s| !s.run(&rules).matches_hardware())
            .map(|s| s.name);
        let by_fuzzer = if by_scenario.is_none() {
            fuzz::fuzz(BOUND, 0, &rules, |_| {}).violation
        } else {
            None
        };
        if by_scenario.is_none() && by_fuzzer.is_none() {
            uncaught.push(rule.id);
        }
    }
    assert!(uncaught.is_empty(), "rules nothing catches: {uncaught:?}");
}

/// The fuzzer alone catches every rule except the platform alias check, whose absence no operation of
/// a running platform can show (it decides whether the platform boots at all; its scenario shows it).
#[test]
fn the_fuzzer_alone_catches_every_runtime_rule() {
    for rule in r::RULES {
        if rule.id == r::ALIAS_CHECK {
            continue;
        }
        let rep = fuzz::fuzz(BOUND, 0, &off(rule.id), |_| {});
        let v = rep
            .violation
            .unwrap_or_else(|| panic!("{} off: no violation in {BOUND} cases", rule.id));
        assert!(
            [
                "confidentiality",
                "integrity",
                "ownership",
                "isolation",
                "policy"
            ]
            .contains(&v.invariant.as_str()),
            "{}: {}",
            rule.id,
            v.invariant
        );
        assert_eq!(rep.disabled_rules, vec![rule.id.to_string()]);
    }
}
