//! Every attack scenario gives the outcome real TDX hardware gives.
#![allow(clippy::unwrap_used)]

use sim_core::rules::RuleSet;
use sim_core::scenario::Outcome;
use sim_tdx::memory::attack::{self, SCENARIOS};

#[test]
fn every_scenario_matches_hardware() {
    for s in SCENARIOS {
        let r = attack::run(s, &RuleSet::all());
        assert!(r.matches_hardware(), "{}", r.render_human());
        if r.outcome == Outcome::Blocked {
            assert_eq!(r.rule.as_deref(), s.rule, "{}", s.name);
        }
    }
}

#[test]
fn switching_off_the_rule_lets_each_blocked_attack_through() {
    for s in SCENARIOS {
        let Some(rule) = s.rule else { continue };
        // Under Ci the MAC also catches what the owner bit catches: switch both off for those.
        let mut off = vec![rule];
        if rule == sim_tdx::memory::rules::TME_OWNER_BIT_CHECK {
            off.push(sim_tdx::memory::rules::TME_CI_MAC);
        }
        let rules = RuleSet::with_disabled(sim_tdx::memory::rules::CATALOGUE, &off).unwrap();
        let r = attack::run(s, &rules);
        assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.render_human());
        assert!(!r.matches_hardware());
    }
}

#[test]
fn every_scenario_rule_is_in_the_catalogue() {
    for s in SCENARIOS {
        if let Some(r) = s.rule {
            assert!(
                sim_tdx::memory::rules::CATALOGUE.iter().any(|c| c.id == r),
                "{r}"
            );
        }
    }
}
