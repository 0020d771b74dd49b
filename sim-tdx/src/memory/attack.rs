//! Named attack scenarios (tdx.md §6). Each builds TDs the way a host does, runs the attack through the
//! model and derives the outcome from what the model did; `expected` is what a real TDX machine does.

use sim_core::rules::RuleSet;
use sim_core::scenario::{AttackReport, Outcome};

use super::guest::{line_pattern, Entry, GuestEvent, TdExit};
use super::lab::{self, Run, BLOCK_2M, POOL, TD_A, TD_B};
use super::ops::{Event, Op};
use super::rules;
use super::seamcall::{Config, TdxModule, ATTR_SEPT_VE_DISABLE, SHARED_BIT};
use super::tme::IntegrityMode;

/// A scenario: name, one-line description, what hardware does, the rule that stops it.
pub struct Scenario {
    /// Name (`cvmsim tdx attack NAME`).
    pub name: &'static str,
    /// One line.
    pub description: &'static str,
    /// What a real TDX machine does.
    pub expected: Outcome,
    /// The rule that stops it on hardware (None when hardware does not).
    pub rule: Option<&'static str>,
    run: fn(&mut Run<'_>) -> bool,
    integrity: IntegrityMode,
}

/// Every scenario, in `attack list` order.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "host-remap",
        description: "the VMM re-points a mapped private GPA at another page (PAGE.AUG / SEPT.ADD over live entries)",
        expected: Outcome::Blocked,
        rule: Some(rules::SEPT_STATE),
        run: host_remap,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "page-swap",
        description: "the VMM swaps the contents of two private pages through its own KeyID",
        expected: Outcome::Blocked,
        rule: Some(rules::TME_OWNER_BIT_CHECK),
        run: page_swap,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "physical-swap",
        description: "a DRAM interposer swaps the ciphertext (and MACs) of two private pages",
        expected: Outcome::Blocked,
        rule: Some(rules::TME_CI_MAC),
        run: physical_swap,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "alias-two-tds",
        description: "the VMM maps TD A's private page into TD B",
        expected: Outcome::Blocked,
        rule: Some(rules::PAMT_PAGE_FREE),
        run: alias_two_tds,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "alias-private-shared",
        description: "the VMM maps a TD's private page behind one of its shared GPAs too",
        expected: Outcome::Blocked,
        rule: Some(rules::TME_OWNER_BIT_CHECK),
        run: alias_private_shared,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "ciphertext-observation",
        description: "the VMM reads a private line after each TD write to tell values apart (CipherLeaks-style)",
        expected: Outcome::Blocked,
        rule: Some(rules::TME_OWNER_READ_ZERO),
        run: ciphertext_observation,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "physical-ciphertext-observation",
        description: "a bus interposer compares ciphertext across TD writes (deterministic AES-XTS; TEE.fail)",
        expected: Outcome::Succeeded,
        rule: None,
        run: physical_ciphertext_observation,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "software-replay",
        description: "the VMM records a private line and writes the old value back later",
        expected: Outcome::Blocked,
        rule: Some(rules::KEYID_PRIVATE_SEAM_ONLY),
        run: software_replay,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "physical-replay",
        description: "a DRAM interposer puts an old (ciphertext, MAC, owner bit) back at the same address",
        expected: Outcome::Succeeded,
        rule: None,
        run: physical_replay,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "pending-ve-abuse",
        description: "the VMM removes and re-AUGs an accepted page so the TD takes a #VE where the VMM chooses (SEPT_VE_DISABLE=0)",
        expected: Outcome::Succeeded,
        rule: None,
        run: pending_ve,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "pending-ve-abuse-ve-disabled",
        description: "the same against a TD with SEPT_VE_DISABLE=1",
        expected: Outcome::Blocked,
        rule: Some(rules::SEPT_VE_DISABLE),
        run: pending_ve_disabled,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "single-step",
        description: "the VMM arms the APIC timer right after entry to retire one instruction per exit (SGX-Step)",
        expected: Outcome::Blocked,
        rule: Some(rules::STEP_SINGLE),
        run: single_step,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "zero-step",
        description: "the VMM keeps a page blocked and re-enters to replay the faulting instruction",
        expected: Outcome::Blocked,
        rule: Some(rules::STEP_ZERO),
        run: zero_step,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "integrity-downgrade",
        description: "the platform runs TDX with logical integrity only; a physical bit flip goes unnoticed, and no quote field shows it",
        expected: Outcome::Succeeded,
        rule: None,
        run: integrity_downgrade,
        integrity: IntegrityMode::Logical,
    },
    Scenario {
        name: "remove-without-block",
        description: "the VMM removes a page of a running TD without TDH.MEM.RANGE.BLOCK",
        expected: Outcome::Blocked,
        rule: Some(rules::BLOCK_BEFORE_REMOVE),
        run: remove_without_block,
        integrity: IntegrityMode::Cryptographic,
    },
    Scenario {
        name: "remove-without-track",
        description: "the VMM blocks a page and removes it while a vCPU may still hold its translation",
        expected: Outcome::Blocked,
        rule: Some(rules::TLB_TRACKED),
        run: remove_without_track,
        integrity: IntegrityMode::Cryptographic,
    },
];

/// The scenario named `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Runs a scenario with `rules` (all on, or some switched off to show what each is for).
pub fn run(s: &Scenario, rules: &RuleSet) -> AttackReport {
    let cfg = Config {
        frames: 2048,
        integrity: s.integrity,
        seed: 0,
    };
    let mut m = TdxModule::new(cfg, rules.clone());
    let mut r = Run::new(&mut m);
    r.steps.push(super::trace::config_event(&cfg, rules));
    let succeeded = (s.run)(&mut r);
    let outcome = if succeeded {
        Outcome::Succeeded
    } else {
        Outcome::Blocked
    };
    AttackReport {
        scenario: s.name.to_string(),
        expected: s.expected,
        outcome,
        rule: if succeeded {
            None
        } else {
            s.rule.map(str::to_string)
        },
        steps: r.steps,
    }
}

fn ok(ev: &Event) -> bool {
    matches!(ev, Event::Leaf(Ok(_)))
}

fn data(ev: &Event) -> Option<[u8; 64]> {
    match ev {
        Event::Guest(GuestEvent::Data(d)) => Some(*d),
        _ => None,
    }
}

fn enter(r: &mut Run<'_>, td: &lab::TdLayout) -> bool {
    matches!(
        r.op(Op::VpEnter { tdvpr: td.tdvpr }),
        Event::Enter(Ok(Entry::Running(_)))
    )
}

/// Builds TD A with `pages` and enters its vCPU.
fn start(r: &mut Run<'_>, attrs: u64, pages: &[u64]) -> bool {
    lab::build(r, &TD_A, attrs, pages) && enter(r, &TD_A)
}

fn store(r: &mut Run<'_>, gpa: u64, b: u8) -> Event {
    r.op(Op::Store {
        tdvpr: TD_A.tdvpr,
        gpa,
        byte: u64::from(b),
    })
}

fn load(r: &mut Run<'_>, gpa: u64) -> Event {
    r.op(Op::Load {
        tdvpr: TD_A.tdvpr,
        gpa,
    })
}

fn host_read(r: &mut Run<'_>, pa: u64, keyid: u64) -> Option<Vec<u8>> {
    match r.op(Op::HostRead { pa, keyid, len: 64 }) {
        Event::HostRead(Ok(d)) => Some(d),
        _ => None,
    }
}

fn host_remap(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    store(r, 0x40, 0x11);
    let a = r.op(Op::PageAug {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
        page: POOL + 0x5000,
    });
    let b = r.op(Op::SeptAdd {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 1,
        page: POOL + 0x6000,
    });
    r.op(Op::Ipi { tdvpr: TD_A.tdvpr });
    enter(r, &TD_A);
    let d = load(r, 0x40);
    ok(&a) || ok(&b) || data(&d) != Some(line_pattern(0x11))
}

fn page_swap(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL, POOL + 0x1000]) {
        return true;
    }
    store(r, 0x0, 0x21);
    store(r, 0x1000, 0x42);
    let a = host_read(r, POOL, 0).unwrap_or_default();
    let b = host_read(r, POOL + 0x1000, 0).unwrap_or_default();
    // The host writes each page's line into the other (the best copy software can make).
    let wa = u64::from(b.first().copied().unwrap_or(0));
    let wb = u64::from(a.first().copied().unwrap_or(0));
    r.op(Op::HostWrite {
        pa: POOL,
        keyid: 0,
        byte: wa,
        len: 64,
    });
    r.op(Op::HostWrite {
        pa: POOL + 0x1000,
        keyid: 0,
        byte: wb,
        len: 64,
    });
    let d = load(r, 0x0);
    let fatal = matches!(
        d,
        Event::Guest(GuestEvent::Exit(TdExit::MachineCheck { .. }))
    );
    r.op(Op::VpEnter { tdvpr: TD_A.tdvpr });
    !fatal
}

fn physical_swap(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL, POOL + 0x1000]) {
        return true;
    }
    store(r, 0x0, 0x21);
    store(r, 0x1000, 0x42);
    let p1 = POOL / 4096;
    let p2 = p1 + 1;
    r.op(Op::DramCopyOut { pfn: p1, slot: 1 });
    r.op(Op::DramCopyOut { pfn: p2, slot: 2 });
    r.op(Op::DramCopyIn { pfn: p1, slot: 2 });
    r.op(Op::DramCopyIn { pfn: p2, slot: 1 });
    let d = load(r, 0x0);
    data(&d).is_some()
}

fn alias_two_tds(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    store(r, 0x0, 0x33);
    if !lab::build(r, &TD_B, 0, &[POOL + 0x1000]) {
        return true;
    }
    let a = r.op(Op::PageAug {
        tdr: TD_B.tdr,
        gpa: 0x1000,
        level: 0,
        page: POOL,
    });
    let b = r.op(Op::SeptAdd {
        tdr: TD_B.tdr,
        gpa: BLOCK_2M,
        level: 1,
        page: POOL,
    });
    ok(&a) || ok(&b)
}

fn alias_private_shared(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    store(r, 0x80, 0x5C);
    r.op(Op::SharedMap {
        tdr: TD_A.tdr,
        gpa: SHARED_BIT | 0x1000,
        hpa: POOL,
        keyid: 0,
    });
    let leak = host_read(r, POOL + 0x80, 0).is_some_and(|d| d.iter().any(|b| *b != 0));
    r.op(Op::Store {
        tdvpr: TD_A.tdvpr,
        gpa: SHARED_BIT | 0x1080,
        byte: 0x77,
    });
    let d = load(r, 0x80);
    leak || data(&d).is_some()
}

fn observe(r: &mut Run<'_>, b: u8) -> Vec<u8> {
    store(r, 0xC0, b);
    host_read(r, POOL + 0xC0, 0).unwrap_or_default()
}

fn ciphertext_observation(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    let x1 = observe(r, 0x01);
    let y = observe(r, 0x02);
    let x2 = observe(r, 0x01);
    let distinguishes = x1 == x2 && x1 != y;
    r.note(
        "attacker",
        "compare observations (X, Y, X)",
        if distinguishes {
            "X and Y told apart"
        } else {
            "all observations equal"
        },
    );
    distinguishes
}

fn physical_ciphertext_observation(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    let pfn = POOL / 4096;
    let mut obs = Vec::new();
    for b in [0x01u8, 0x02, 0x01] {
        store(r, 0xC0, b);
        r.op(Op::DramCopyOut { pfn, slot: 9 });
        let line =
            r.m.phys_slots
                .get(&9)
                .map(|f| f.data[0xC0..0x100].to_vec())
                .unwrap_or_default();
        obs.push(line);
    }
    let distinguishes = obs[0] == obs[2] && obs[0] != obs[1];
    r.note(
        "attacker",
        "compare ciphertext of line 0xC0 (X, Y, X)",
        if distinguishes {
            "same plaintext, same ciphertext: X and Y told apart"
        } else {
            "ciphertext differs"
        },
    );
    distinguishes
}

fn software_replay(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    store(r, 0x100, 0x0A);
    host_read(r, POOL + 0x100, 0);
    host_read(r, POOL + 0x100, u64::from(TD_A.hkid));
    store(r, 0x100, 0x0B);
    r.op(Op::HostWrite {
        pa: POOL + 0x100,
        keyid: u64::from(TD_A.hkid),
        byte: 0x0A,
        len: 64,
    });
    let d = load(r, 0x100);
    if data(&d) == Some(line_pattern(0x0A)) {
        return true;
    }
    r.op(Op::HostWrite {
        pa: POOL + 0x100,
        keyid: 0,
        byte: 0x0A,
        len: 64,
    });
    let d = load(r, 0x100);
    data(&d) == Some(line_pattern(0x0A))
}

fn physical_replay(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    store(r, 0x140, 0x0A);
    r.op(Op::DramCopyOut {
        pfn: POOL / 4096,
        slot: 1,
    });
    store(r, 0x140, 0x0B);
    r.op(Op::DramCopyIn {
        pfn: POOL / 4096,
        slot: 1,
    });
    let d = load(r, 0x140);
    data(&d) == Some(line_pattern(0x0A))
}

/// Removes GPA 0 of a running TD A by the full protocol and re-AUGs it; then the TD touches it.
fn pending_ve_common(r: &mut Run<'_>, attrs: u64) -> bool {
    if !start(r, attrs, &[POOL]) {
        return true;
    }
    load(r, 0x0);
    r.op(Op::RangeBlock {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    r.op(Op::Track { tdr: TD_A.tdr });
    r.op(Op::Ipi { tdvpr: TD_A.tdvpr });
    r.op(Op::PageRemove {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    r.op(Op::PageAug {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
        page: POOL + 0x3000,
    });
    enter(r, &TD_A);
    let d = load(r, 0x0);
    matches!(d, Event::Guest(GuestEvent::Ve { .. }))
}

fn pending_ve(r: &mut Run<'_>) -> bool {
    pending_ve_common(r, 0)
}

fn pending_ve_disabled(r: &mut Run<'_>) -> bool {
    pending_ve_common(r, ATTR_SEPT_VE_DISABLE)
}

fn single_step(r: &mut Run<'_>) -> bool {
    if !lab::build(r, &TD_A, 0, &[POOL]) {
        return true;
    }
    let mut all_one = true;
    for _ in 0..10 {
        match r.op(Op::VpEnterTimer {
            tdvpr: TD_A.tdvpr,
            tsc: 100,
        }) {
            Event::Enter(Ok(Entry::Exited(TdExit::Interrupt { retired }))) => {
                all_one &= retired == 1
            }
            _ => all_one = false,
        }
    }
    all_one
}

fn zero_step(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL, POOL + 0x1000]) {
        return true;
    }
    r.op(Op::RangeBlock {
        tdr: TD_A.tdr,
        gpa: 0x1000,
        level: 0,
    });
    r.op(Op::Track { tdr: TD_A.tdr });
    r.op(Op::Ipi { tdvpr: TD_A.tdvpr });
    enter(r, &TD_A);
    load(r, 0x1000);
    let mut most = 0;
    for _ in 0..10 {
        r.op(Op::VpEnter { tdvpr: TD_A.tdvpr });
        let runs =
            r.m.vcpus
                .get(&(TD_A.tdvpr / 4096))
                .map_or(0, |v| v.zero_progress_runs);
        most = most.max(runs);
    }
    r.note(
        "attacker",
        "executions of the faulting instruction without progress",
        &most.to_string(),
    );
    most > u32::from(super::seamcall::STEPPING_EPF_THRESHOLD) + 1
}

fn integrity_downgrade(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    store(r, 0x180, 0x66);
    r.op(Op::DramFlip {
        pa: POOL + 0x185,
        bit: 2,
    });
    let d = load(r, 0x180);
    let silent = data(&d).is_some_and(|x| x != line_pattern(0x66));
    r.note(
        "verifier",
        "look for the integrity mode in TDREPORT / quote",
        "no such field: only platform policy (PCK SGX Type/Configuration, TCB info) can reject a Li platform",
    );
    silent
}

fn remove_without_block(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    load(r, 0x0);
    let rm = r.op(Op::PageRemove {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    ok(&rm)
}

fn remove_without_track(r: &mut Run<'_>) -> bool {
    if !start(r, 0, &[POOL]) {
        return true;
    }
    load(r, 0x0);
    r.op(Op::RangeBlock {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    let a = r.op(Op::PageRemove {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    if ok(&a) {
        return true;
    }
    r.op(Op::Track { tdr: TD_A.tdr });
    let b = r.op(Op::PageRemove {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    if ok(&b) {
        // The vCPU still runs with the old translation: its store lands in a page the host now owns.
        store(r, 0x0, 0x99);
        return true;
    }
    r.op(Op::Ipi { tdvpr: TD_A.tdvpr });
    let c = r.op(Op::PageRemove {
        tdr: TD_A.tdr,
        gpa: 0,
        level: 0,
    });
    r.note(
        "attacker",
        "REMOVE after BLOCK, TRACK and an IPI",
        if ok(&c) {
            "allowed: no vCPU can still use the translation"
        } else {
            "refused"
        },
    );
    false
}
