//! The invariant fuzzer: holds with every rule on, and catches each rule switched off alone.
#![allow(clippy::unwrap_used)]

use sim_core::rules::RuleSet;
use sim_tdx::memory::fuzz;
use sim_tdx::memory::rules::CATALOGUE;

/// Cases the per-rule tests may take to catch a rule switched off (the slowest, TDX-ACCEPT-ZERO, needs
/// 53 with seed 0).
const BOUND: u64 = 300;

fn caught_alone(id: &str) {
    let rules = RuleSet::with_disabled(CATALOGUE, &[id]).unwrap();
    let r = fuzz::run(BOUND, 0, &rules, |_| {});
    let v = r
        .violation
        .unwrap_or_else(|| panic!("{id} switched off was not caught in {BOUND} cases"));
    assert!(!v.trace.is_empty());
    assert_eq!(r.disabled_rules, vec![id.to_string()]);
}

macro_rules! per_rule {
    ($($name:ident => $id:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                caught_alone(sim_tdx::memory::rules::$id);
            }
        )*

        #[test]
        fn every_rule_has_a_test() {
            let tested = [$(sim_tdx::memory::rules::$id),*];
            for r in CATALOGUE {
                assert!(tested.contains(&r.id), "{} has no switched-off test", r.id);
            }
        }
    };
}

per_rule! {
    off_pamt_page_free => PAMT_PAGE_FREE,
    off_reclaim_teardown => RECLAIM_TEARDOWN,
    off_tdr_children => TDR_CHILDREN,
    off_sept_state => SEPT_STATE,
    off_op_state => OP_STATE,
    off_block_before_remove => BLOCK_BEFORE_REMOVE,
    off_tlb_tracked => TLB_TRACKED,
    off_keyid_private_seam_only => KEYID_PRIVATE_SEAM_ONLY,
    off_hkid_free => HKID_FREE,
    off_tme_owner_read_zero => TME_OWNER_READ_ZERO,
    off_tme_owner_bit_check => TME_OWNER_BIT_CHECK,
    off_tme_ci_mac => TME_CI_MAC,
    off_mc_td_fatal => MC_TD_FATAL,
    off_accept_zero => ACCEPT_ZERO,
    off_sept_ve_disable => SEPT_VE_DISABLE,
    off_step_single => STEP_SINGLE,
    off_step_zero => STEP_ZERO,
}

#[test]
fn same_seed_same_report() {
    let rules = RuleSet::with_disabled(CATALOGUE, &["TDX-TME-CI-MAC"]).unwrap();
    assert_eq!(
        fuzz::run(100, 5, &rules, |_| {}),
        fuzz::run(100, 5, &rules, |_| {})
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// The same checker driven by proptest-chosen (and shrinkable) choices.
    #[test]
    fn proptest_choices_hold(choices in proptest::collection::vec(0u32..1000, 0..240)) {
        let mut c = fuzz::ListChoices::new(&choices);
        let v = fuzz::run_choices(&mut c, &RuleSet::all(), 1);
        proptest::prop_assert!(v.is_none(), "{:?}", v.map(|v| (v.invariant, v.detail)));
    }
}

#[test]
fn holds_with_every_rule_on() {
    let r = fuzz::run(300, 7, &RuleSet::all(), |_| {});
    assert!(r.violation.is_none(), "{:#?}", r.violation);
    assert_eq!(r.cases, 300);
}

#[test]
#[ignore]
fn report_detection_cases() {
    for rule in CATALOGUE {
        let rules = RuleSet::with_disabled(CATALOGUE, &[rule.id]).unwrap();
        let r = fuzz::run(BOUND, 0, &rules, |_| {});
        match &r.violation {
            Some(v) => println!(
                "{:32} caught after {:5} cases: {} ({})",
                rule.id, r.cases, v.invariant, v.detail
            ),
            None => println!("{:32} NOT CAUGHT in {} cases", rule.id, r.cases),
        }
    }
}

#[test]
#[ignore]
fn many_cases_all_rules() {
    let n: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20000);
    let r = fuzz::run(n, 3, &RuleSet::all(), |_| {});
    if let Some(v) = &r.violation {
        for s in &v.trace {
            println!("{:10} {:70} -> {}", s.actor, s.op, s.result);
        }
    }
    assert!(
        r.violation.is_none(),
        "{} cases: {:?}",
        r.cases,
        r.violation.map(|v| (v.invariant, v.detail))
    );
}
