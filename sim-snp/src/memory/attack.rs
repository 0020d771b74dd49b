//! Named attack scenarios (snp.md §4.6, §6). Each runs on a fresh platform, records every step (actor,
//! operation, architectural result), decides from what it observed whether the attacker reached the
//! goal, and compares that with what a real SNP machine does (the `expected` of each scenario, taken
//! from snp.md §6, never computed).

use sim_core::rules::RuleSet;
use sim_core::scenario::{AttackReport, Outcome, TraceEvent};

use super::machine::{Machine, MachineConfig};
use super::op::{result_text, Op, OpOk, OpResult};
use super::phys::BadRam;
use super::rmp::perm;
use super::rules as r;
use super::types::{policy, Asid, PageSize, Product, PAGE_4K};

/// A named scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Name, as on the command line.
    pub name: &'static str,
    /// What the attacker tries.
    pub description: &'static str,
    /// What real hardware does (snp.md §6).
    pub expected: Outcome,
    run: fn(&RuleSet) -> Run,
}

/// Every scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "remap-other-address",
        description: "hypervisor points a validated GPA at another page it assigned to the guest (SEVered-style remap)",
        expected: Outcome::Blocked,
        run: remap_other_address,
    },
    Scenario {
        name: "remap-other-guest",
        description: "hypervisor maps a guest GPA onto another guest's page",
        expected: Outcome::Blocked,
        run: remap_other_guest,
    },
    Scenario {
        name: "write-replay",
        description: "host writes a page's old ciphertext back to roll the guest's data back",
        expected: Outcome::Blocked,
        run: write_replay,
    },
    Scenario {
        name: "alias-mapping",
        description: "hypervisor maps two GPAs onto one guest page",
        expected: Outcome::Blocked,
        run: alias_mapping,
    },
    Scenario {
        name: "rmpupdate-behind-back",
        description: "hypervisor takes a validated page back with RMPUPDATE, writes it, and gives it back",
        expected: Outcome::Blocked,
        run: rmpupdate_behind_back,
    },
    Scenario {
        name: "vmpl-escalation",
        description: "code at VMPL3 writes a VMPL0-only page, then tries to grant itself write access",
        expected: Outcome::Blocked,
        run: vmpl_escalation,
    },
    Scenario {
        name: "page-size-mismatch",
        description: "hypervisor maps a 2M GPA range over 4K RMP pages that are not all the guest's",
        expected: Outcome::Blocked,
        run: page_size_mismatch,
    },
    Scenario {
        name: "swap-out-write",
        description: "hypervisor swaps a page out; a later guest write would be lost on swap-in",
        expected: Outcome::Blocked,
        run: swap_out_write,
    },
    Scenario {
        name: "uncovered-forged-rmp",
        description: "hypervisor maps a GPA to memory above RMP_END and forges its 'RMP entry' there",
        expected: Outcome::Blocked,
        run: uncovered_forged_rmp,
    },
    Scenario {
        name: "heracles-page-swap",
        description: "Heracles: chosen plaintext via SNP_PAGE_MOVE re-encryption at a chosen SPA (policy bit 25 clear)",
        expected: Outcome::Succeeded,
        run: heracles_allowed,
    },
    Scenario {
        name: "heracles-page-swap-disabled",
        description: "Heracles against a guest whose policy sets PAGE_SWAP_DISABLE (bit 25)",
        expected: Outcome::Blocked,
        run: heracles_disabled,
    },
    Scenario {
        name: "badram-alias",
        description: "BadRAM: a DIMM aliases guest DRAM at a hypervisor-owned address; replay through the alias (no alias check, PLATFORM_INFO bit 5 clear)",
        expected: Outcome::Succeeded,
        run: badram_unchecked,
    },
    Scenario {
        name: "badram-alias-checked",
        description: "BadRAM on a platform that runs the boot-time alias check (PLATFORM_INFO bit 5)",
        expected: Outcome::Blocked,
        run: badram_checked,
    },
    Scenario {
        name: "cipherleaks",
        description: "CipherLeaks: the host matches deterministic ciphertext against ciphertext of known values",
        expected: Outcome::Succeeded,
        run: cipherleaks,
    },
];

/// Finds a scenario by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

impl Scenario {
    /// Runs the scenario with `rules`.
    pub fn run(&self, rules: &RuleSet) -> AttackReport {
        let run = (self.run)(rules);
        AttackReport {
            scenario: self.name.into(),
            expected: self.expected,
            outcome: run.outcome,
            rule: run.rule.map(String::from),
            steps: run.steps,
        }
    }
}

struct Run {
    outcome: Outcome,
    rule: Option<&'static str>,
    steps: Vec<TraceEvent>,
}

/// A scenario in progress: the machine, the steps, the first rule that refused an attack step.
struct Script {
    m: Option<Machine>,
    steps: Vec<TraceEvent>,
    attacking: bool,
    rule: Option<&'static str>,
}

const G1: Asid = 1;
const G2: Asid = 2;

impl Script {
    fn boot(cfg: MachineConfig, rules: &RuleSet) -> Self {
        let op = super::trace::platform_op(&cfg);
        let (m, result, rule) = match Machine::new(cfg, rules.clone()) {
            Ok(m) => {
                let pi = m.platform_info();
                (Some(m), format!("ok platform_info={pi:#x}"), None)
            }
            Err(e @ super::machine::InitError::AliasDetected) => {
                (None, e.to_string(), Some(r::ALIAS_CHECK))
            }
            Err(e) => (None, e.to_string(), None),
        };
        Script {
            m,
            steps: vec![TraceEvent {
                actor: "platform".into(),
                op,
                result,
            }],
            attacking: false,
            rule,
        }
    }

    fn new(rules: &RuleSet) -> Self {
        Self::boot(MachineConfig::default(), rules)
    }

    fn step(&mut self, op: Op) -> OpResult {
        let Some(m) = self.m.as_mut() else {
            return Err(super::machine::OpError::Sp(
                super::machine::SpStatus::HWERROR_PLATFORM,
            ));
        };
        let r = op.execute(m);
        let blocked = m.take_blocking_rule();
        if self.attacking && r.is_err() && self.rule.is_none() {
            self.rule = blocked;
        }
        self.steps.push(TraceEvent {
            actor: op.actor().to_string(),
            op: op.to_string(),
            result: result_text(&r),
        });
        r
    }

    fn note(&mut self, actor: &str, op: String, result: String) {
        self.steps.push(TraceEvent {
            actor: actor.into(),
            op,
            result,
        });
    }

    /// Launches a guest with 4K pages `(gpa, spa, first bytes)` (the rest of each page zero).
    fn launch(&mut self, asid: Asid, pol: u64, pages: &[(u64, u64, &[u8])]) {
        let _ = self.step(Op::LaunchStart { asid, policy: pol });
        for (gpa, spa, data) in pages {
            let _ = self.step(Op::HostWrite {
                spa: *spa,
                data: data.to_vec(),
            });
            let _ = self.step(Op::RmpUpdate {
                spa: *spa,
                gpa: *gpa,
                assigned: true,
                size: PageSize::Size4K,
                immutable: true,
                asid,
            });
            let _ = self.step(Op::LaunchUpdate { asid, spa: *spa });
            let _ = self.step(Op::NptMap {
                asid,
                gpa: *gpa,
                spa: *spa,
                size: PageSize::Size4K,
            });
        }
    }

    fn attack(&mut self) {
        self.attacking = true;
    }

    fn gread(&mut self, asid: Asid, vmpl: u8, gpa: u64, len: usize) -> Option<Vec<u8>> {
        match self.step(Op::Read {
            asid,
            vmpl,
            gpa,
            private: true,
            len,
        }) {
            Ok(OpOk::Data(d)) => Some(d),
            _ => None,
        }
    }

    fn gwrite(&mut self, asid: Asid, vmpl: u8, gpa: u64, data: &[u8]) -> bool {
        self.step(Op::Write {
            asid,
            vmpl,
            gpa,
            private: true,
            data: data.to_vec(),
        })
        .is_ok()
    }

    fn hread(&mut self, spa: u64, len: usize) -> Vec<u8> {
        match self.step(Op::HostRead { spa, len }) {
            Ok(OpOk::Data(d)) => d,
            _ => Vec::new(),
        }
    }

    fn finish(self, succeeded: bool) -> Run {
        Run {
            outcome: if succeeded {
                Outcome::Succeeded
            } else {
                Outcome::Blocked
            },
            rule: if succeeded { None } else { self.rule },
            steps: self.steps,
        }
    }
}

const SECRET: &[u8] = b"guest secret: launch key 0042!!!";
const EVIL: &[u8] = b"hypervisor-chosen bytes .......!";

fn remap_other_address(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, SECRET)]);
    s.attack();
    // The hypervisor prepares another page and assigns it to the guest at the same GPA.
    let _ = s.step(Op::HostWrite {
        spa: 0x30_0000,
        data: EVIL.to_vec(),
    });
    let _ = s.step(Op::RmpUpdate {
        spa: 0x30_0000,
        gpa: 0x1000,
        assigned: true,
        size: PageSize::Size4K,
        immutable: false,
        asid: G1,
    });
    let _ = s.step(Op::NptMap {
        asid: G1,
        gpa: 0x1000,
        spa: 0x30_0000,
        size: PageSize::Size4K,
    });
    let got = s.gread(G1, 0, 0x1000, SECRET.len());
    // The attack works if the guest consumes the substituted page without a fault.
    let ok = got.is_some_and(|d| d != SECRET);
    s.finish(ok)
}

fn remap_other_guest(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, SECRET)]);
    s.launch(G2, policy::MINIMAL, &[(0x1000, 0x20_1000, &[0u8; 32])]);
    s.attack();
    // Guest 2 (attacker-controlled) gets guest 1's page at the same GPA, and writes it.
    let _ = s.step(Op::NptMap {
        asid: G2,
        gpa: 0x1000,
        spa: 0x20_0000,
        size: PageSize::Size4K,
    });
    let wrote = s.gwrite(G2, 0, 0x1000, EVIL);
    let read = s.gread(G2, 0, 0x1000, SECRET.len()).is_some();
    let seen = s.gread(G1, 0, 0x1000, SECRET.len());
    let ok = (wrote && seen.as_deref() != Some(SECRET)) || read;
    s.finish(ok)
}

fn write_replay(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, &[0u8; 32])]);
    let _ = s.gwrite(G1, 0, 0x1000, b"balance: 0000000100 (old)       ");
    s.attack();
    let old = s.hread(0x20_0000, 32);
    let _ = s.gwrite(G1, 0, 0x1000, b"balance: 0000000000 (new)       ");
    let _ = s.step(Op::HostWrite {
        spa: 0x20_0000,
        data: old,
    });
    let got = s.gread(G1, 0, 0x1000, 32);
    let ok = got.as_deref() == Some(&b"balance: 0000000100 (old)       "[..]);
    s.finish(ok)
}

fn alias_mapping(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, SECRET)]);
    s.attack();
    // GPA 0x5000 (say, a DMA buffer the guest writes freely) is mapped onto the page of GPA 0x1000.
    let _ = s.step(Op::NptMap {
        asid: G1,
        gpa: 0x5000,
        spa: 0x20_0000,
        size: PageSize::Size4K,
    });
    let wrote = s.gwrite(G1, 0, 0x5000, EVIL);
    let seen = s.gread(G1, 0, 0x1000, SECRET.len());
    let ok = wrote && seen.as_deref() != Some(SECRET);
    s.finish(ok)
}

fn rmpupdate_behind_back(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, SECRET)]);
    s.attack();
    let upd = |assigned: bool| Op::RmpUpdate {
        spa: 0x20_0000,
        gpa: if assigned { 0x1000 } else { 0 },
        assigned,
        size: PageSize::Size4K,
        immutable: false,
        asid: if assigned { G1 } else { 0 },
    };
    let _ = s.step(upd(false));
    let _ = s.step(Op::HostWrite {
        spa: 0x20_0000,
        data: EVIL.to_vec(),
    });
    let _ = s.step(upd(true));
    let got = s.gread(G1, 0, 0x1000, SECRET.len());
    let ok = got.is_some_and(|d| d != SECRET);
    s.finish(ok)
}

fn vmpl_escalation(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, SECRET)]);
    s.attack();
    let w1 = s.gwrite(G1, 3, 0x1000, EVIL);
    let _ = s.step(Op::RmpAdjust {
        asid: G1,
        vmpl: 3,
        gpa: 0x1000,
        size: PageSize::Size4K,
        target: 3,
        perms: perm::READ | perm::WRITE,
    });
    let w2 = s.gwrite(G1, 3, 0x1000, EVIL);
    s.finish(w1 || w2)
}

fn page_size_mismatch(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    // GPA 0 and 0x1000 are the guest's pages at 0x200000 and 0x300000; 0x201000 belongs to nobody.
    s.launch(
        G1,
        policy::MINIMAL,
        &[(0x0, 0x20_0000, &[1u8; 32]), (0x1000, 0x30_0000, SECRET)],
    );
    s.attack();
    let _ = s.step(Op::NptMap {
        asid: G1,
        gpa: 0,
        spa: 0x20_0000,
        size: PageSize::Size2M,
    });
    let wrote = s.gwrite(G1, 0, 0x1000, b"guest data the host must not own");
    let _ = s.step(Op::HostWrite {
        spa: 0x20_1000,
        data: EVIL.to_vec(),
    });
    let got = s.gread(G1, 0, 0x1000, 32);
    let ok = wrote && got.as_deref() != Some(&b"guest data the host must not own"[..]);
    s.finish(ok)
}

fn swap_out_write(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, SECRET)]);
    s.attack();
    let slot = match s.step(Op::SwapOut {
        asid: G1,
        spa: 0x20_0000,
    }) {
        Ok(OpOk::Slot(n)) => n,
        _ => return s.finish(false),
    };
    let wrote = s.gwrite(G1, 0, 0x1000, b"written after the swap-out......");
    let _ = s.step(Op::SwapIn {
        asid: G1,
        slot,
        dst: 0x30_0000,
    });
    let _ = s.step(Op::NptMap {
        asid: G1,
        gpa: 0x1000,
        spa: 0x30_0000,
        size: PageSize::Size4K,
    });
    let got = s.gread(G1, 0, 0x1000, 32);
    // The write "succeeded" but was silently lost.
    let ok = wrote && got.as_deref() != Some(&b"written after the swap-out......"[..]);
    s.finish(ok)
}

fn uncovered_forged_rmp(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, SECRET)]);
    s.attack();
    let Some(m) = s.m.as_ref() else {
        return s.finish(false);
    };
    let (_, top) = m.rmp_range();
    let target = top + PAGE_4K;
    let Some(entry_at) = m.entry_addr(target) else {
        return s.finish(false);
    };
    let mut e = super::rmp::RmpEntry::default();
    e.set_assigned(true);
    e.set_asid(G1);
    e.set_gpa(0x1000);
    e.set_validated(true);
    e.set_perms(0, perm::ALL);
    let mut forged = e.q0.get().to_le_bytes().to_vec();
    forged.extend_from_slice(&e.q1.get().to_le_bytes());
    let _ = s.step(Op::HostWrite {
        spa: entry_at,
        data: forged,
    });
    let _ = s.step(Op::HostWrite {
        spa: target,
        data: EVIL.to_vec(),
    });
    let _ = s.step(Op::NptMap {
        asid: G1,
        gpa: 0x1000,
        spa: target,
        size: PageSize::Size4K,
    });
    let got = s.gread(G1, 0, 0x1000, SECRET.len());
    let ok = got.is_some_and(|d| d != SECRET);
    s.finish(ok)
}

/// Heracles: the guest's secret block is one of `CANDIDATES`; the host makes the guest write each
/// candidate into a buffer page at SPA `B` and records the ciphertexts, moves the buffer away, moves
/// the secret page to `B` with SNP_PAGE_MOVE, and looks its ciphertext up in the table.
fn heracles(rules: &RuleSet, pol: u64) -> Run {
    const CANDIDATES: u8 = 8;
    const SECRET_PIN: u8 = 5;
    let cand = |i: u8| {
        let mut b = *b"PIN=0 ..........";
        b[4] = b'0' + i;
        b
    };
    let (secret_spa, buf_spa, park_spa) = (0x20_0000, 0x30_0000, 0x30_1000);
    let mut s = Script::new(rules);
    s.launch(
        G1,
        pol,
        &[
            (0x1000, secret_spa, &cand(SECRET_PIN)),
            (0x2000, buf_spa, &[0u8; 16]),
        ],
    );
    s.attack();
    let mut table = Vec::new();
    for i in 0..CANDIDATES {
        // Chosen plaintext: e.g. the guest copies attacker-sent network data into its buffer.
        let _ = s.gwrite(G1, 0, 0x2000, &cand(i));
        table.push((i, s.hread(buf_spa, 16)));
    }
    let moved = s
        .step(Op::PageMove {
            asid: G1,
            src: buf_spa,
            dst: park_spa,
        })
        .is_ok();
    if !moved {
        return s.finish(false);
    }
    let _ = s.step(Op::NptMap {
        asid: G1,
        gpa: 0x2000,
        spa: park_spa,
        size: PageSize::Size4K,
    });
    let _ = s.step(Op::RmpUpdate {
        spa: buf_spa,
        gpa: 0,
        assigned: false,
        size: PageSize::Size4K,
        immutable: false,
        asid: 0,
    });
    if s.step(Op::PageMove {
        asid: G1,
        src: secret_spa,
        dst: buf_spa,
    })
    .is_err()
    {
        return s.finish(false);
    }
    let c = s.hread(buf_spa, 16);
    let found = table.iter().find(|(_, t)| *t == c).map(|(i, _)| *i);
    s.note(
        "analysis",
        "LOOKUP ciphertext in chosen-plaintext table".into(),
        match found {
            Some(i) => format!("match: PIN={i}"),
            None => "no match".into(),
        },
    );
    s.finish(found == Some(SECRET_PIN))
}

fn heracles_allowed(rules: &RuleSet) -> Run {
    heracles(rules, policy::MINIMAL)
}

fn heracles_disabled(rules: &RuleSet) -> Run {
    heracles(rules, policy::MINIMAL | policy::PAGE_SWAP_DISABLE)
}

/// BadRAM: SPAs from 0x1000_0000 alias the DRAM of 0x20_0000..0x40_0000. The alias addresses are
/// ordinary hypervisor-owned memory to the RMP, so the host can write the guest's DRAM through them.
fn badram(rules: &RuleSet, alias_check: bool) -> Run {
    let cfg = MachineConfig {
        product: Product::Genoa,
        badram: Some(BadRam {
            alias: 0x1000_0000,
            target: 0x20_0000,
            len: 0x20_0000,
        }),
        alias_check,
        ..MachineConfig::default()
    };
    let mut s = Script::boot(cfg, rules);
    if s.m.is_none() {
        return s.finish(false);
    }
    let old = b"attestation nonce: 1111 (old)...";
    let new = b"attestation nonce: 2222 (new)...";
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, &[0u8; 32])]);
    let _ = s.gwrite(G1, 0, 0x1000, old);
    s.attack();
    let captured = s.hread(0x1000_0000, 32);
    let _ = s.gwrite(G1, 0, 0x1000, new);
    let _ = s.step(Op::HostWrite {
        spa: 0x1000_0000,
        data: captured,
    });
    let got = s.gread(G1, 0, 0x1000, 32);
    s.finish(got.as_deref() == Some(&old[..]))
}

fn badram_unchecked(rules: &RuleSet) -> Run {
    badram(rules, false)
}

fn badram_checked(rules: &RuleSet) -> Run {
    badram(rules, true)
}

/// CipherLeaks: a value the guest stores at a fixed address is either 0 or 1 (say, a secret-dependent
/// branch's flag); the host learns both ciphertexts when the value is known and reads off the secret.
fn cipherleaks(rules: &RuleSet) -> Run {
    let mut s = Script::new(rules);
    s.launch(G1, policy::MINIMAL, &[(0x1000, 0x20_0000, &[0u8; 16])]);
    s.attack();
    let val = |b: u8| {
        let mut v = [0u8; 16];
        v[0] = b;
        v
    };
    let _ = s.gwrite(G1, 0, 0x1000, &val(0));
    let c0 = s.hread(0x20_0000, 16);
    let _ = s.gwrite(G1, 0, 0x1000, &val(1));
    let c1 = s.hread(0x20_0000, 16);
    let secret_bit = 1u8;
    let _ = s.gwrite(G1, 0, 0x1000, &val(secret_bit));
    let c = s.hread(0x20_0000, 16);
    let guess = if c == c0 {
        Some(0)
    } else if c == c1 {
        Some(1)
    } else {
        None
    };
    s.note(
        "analysis",
        "COMPARE ciphertext with known-value ciphertexts".into(),
        match guess {
            Some(g) => format!("match: secret bit = {g}"),
            None => "no match".into(),
        },
    );
    s.finish(guess == Some(secret_bit))
}
