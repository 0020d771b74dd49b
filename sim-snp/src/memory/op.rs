//! Operations of the actors and their results, with the text forms used by scenario steps, fuzz
//! counterexamples and traces (`actor`, `op`, `result` of [`sim_core::scenario::TraceEvent`]).
//!
//! Op grammar: `NAME key=value ...`, numbers in `0x` hex or decimal, byte strings in lower-case hex.
//! The actor is `host`, `sp` or `guest<ASID>@vmpl<N>`. See `vectors/README.md` ("SNP memory traces").

use std::collections::BTreeMap;

use sim_core::scenario::TraceEvent;

use super::machine::{Access, Machine, OpError};
use super::rmp::RmpUpdateInput;
use super::types::{Asid, PageSize, Vmpl};

/// Who performs an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The hypervisor / host kernel.
    Host,
    /// The AMD Secure Processor (commands issued by the hypervisor).
    Sp,
    /// A guest vCPU of `asid` running at `vmpl`.
    Guest {
        /// The guest's ASID.
        asid: Asid,
        /// The VMPL the vCPU runs at.
        vmpl: Vmpl,
    },
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Host => f.write_str("host"),
            Actor::Sp => f.write_str("sp"),
            Actor::Guest { asid, vmpl } => write!(f, "guest{asid}@vmpl{vmpl}"),
        }
    }
}

impl Actor {
    /// Parses `host`, `sp` or `guest<ASID>@vmpl<N>`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "host" => Ok(Actor::Host),
            "sp" => Ok(Actor::Sp),
            _ => {
                let rest = s
                    .strip_prefix("guest")
                    .ok_or_else(|| format!("unknown actor {s:?}"))?;
                let (a, v) = rest
                    .split_once("@vmpl")
                    .ok_or_else(|| format!("actor {s:?}: expected guest<ASID>@vmpl<N>"))?;
                let asid = a.parse().map_err(|_| format!("actor {s:?}: bad ASID"))?;
                let vmpl: Vmpl = v.parse().map_err(|_| format!("actor {s:?}: bad VMPL"))?;
                if vmpl > 3 {
                    return Err(format!("actor {s:?}: VMPL above 3"));
                }
                Ok(Actor::Guest { asid, vmpl })
            }
        }
    }
}

/// One operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Hypervisor: map `gpa` → `spa` in the guest's NPT.
    NptMap {
        /// Guest.
        asid: Asid,
        /// GPA.
        gpa: u64,
        /// SPA.
        spa: u64,
        /// Leaf size.
        size: PageSize,
    },
    /// Hypervisor: unmap `gpa`.
    NptUnmap {
        /// Guest.
        asid: Asid,
        /// GPA.
        gpa: u64,
    },
    /// Host data write.
    HostWrite {
        /// SPA.
        spa: u64,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Host data read.
    HostRead {
        /// SPA.
        spa: u64,
        /// Length.
        len: usize,
    },
    /// RMPUPDATE.
    RmpUpdate {
        /// SPA.
        spa: u64,
        /// GPA.
        gpa: u64,
        /// ASSIGNED.
        assigned: bool,
        /// PAGE_SIZE.
        size: PageSize,
        /// IMMUTABLE.
        immutable: bool,
        /// ASID.
        asid: Asid,
    },
    /// PSMASH.
    Psmash {
        /// SPA (2M aligned).
        spa: u64,
    },
    /// RMPREAD.
    RmpRead {
        /// SPA.
        spa: u64,
    },
    /// SNP_LAUNCH_START.
    LaunchStart {
        /// Guest.
        asid: Asid,
        /// GUEST_POLICY.
        policy: u64,
    },
    /// SNP_LAUNCH_UPDATE (one 4K page).
    LaunchUpdate {
        /// Guest.
        asid: Asid,
        /// SPA.
        spa: u64,
    },
    /// SNP_PAGE_RECLAIM.
    PageReclaim {
        /// SPA.
        spa: u64,
    },
    /// SNP_PAGE_MOVE.
    PageMove {
        /// Guest.
        asid: Asid,
        /// Source SPA.
        src: u64,
        /// Destination SPA.
        dst: u64,
    },
    /// SNP_PAGE_SWAP_OUT.
    SwapOut {
        /// Guest.
        asid: Asid,
        /// SPA.
        spa: u64,
    },
    /// SNP_PAGE_SWAP_IN.
    SwapIn {
        /// Guest.
        asid: Asid,
        /// Swap slot returned by SWAP_OUT.
        slot: usize,
        /// Destination SPA.
        dst: u64,
    },
    /// Guest data write.
    Write {
        /// Guest.
        asid: Asid,
        /// VMPL.
        vmpl: Vmpl,
        /// GPA.
        gpa: u64,
        /// C-bit (private).
        private: bool,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Guest data read.
    Read {
        /// Guest.
        asid: Asid,
        /// VMPL.
        vmpl: Vmpl,
        /// GPA.
        gpa: u64,
        /// C-bit (private).
        private: bool,
        /// Length.
        len: usize,
    },
    /// Guest instruction fetch (always private).
    Fetch {
        /// Guest.
        asid: Asid,
        /// VMPL.
        vmpl: Vmpl,
        /// GPA.
        gpa: u64,
    },
    /// PVALIDATE.
    Pvalidate {
        /// Guest.
        asid: Asid,
        /// VMPL.
        vmpl: Vmpl,
        /// GPA (= GVA).
        gpa: u64,
        /// Size operand.
        size: PageSize,
        /// 1 validate, 0 rescind.
        validate: bool,
    },
    /// RMPADJUST.
    RmpAdjust {
        /// Guest.
        asid: Asid,
        /// Caller VMPL.
        vmpl: Vmpl,
        /// GPA (= GVA).
        gpa: u64,
        /// Size operand.
        size: PageSize,
        /// Target VMPL.
        target: Vmpl,
        /// Permission mask.
        perms: u8,
    },
}

/// What a successful operation returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpOk {
    /// Done.
    Done,
    /// Bytes read.
    Data(Vec<u8>),
    /// PVALIDATE's CF.
    Cf(bool),
    /// SWAP_OUT's slot.
    Slot(usize),
    /// RMPREAD's output.
    Entry(RmpUpdateInput),
}

/// The result of an operation.
pub type OpResult = Result<OpOk, OpError>;

/// The text of a result (`ok`, `ok data=…`, `#PF err=0x80000003`, `FAIL_PERMISSION`, …).
pub fn result_text(r: &OpResult) -> String {
    match r {
        Ok(OpOk::Done) => "ok".into(),
        Ok(OpOk::Data(d)) => format!("ok data={}", hex::encode(d)),
        Ok(OpOk::Cf(c)) => format!("ok cf={}", u8::from(*c)),
        Ok(OpOk::Slot(s)) => format!("ok slot={s}"),
        Ok(OpOk::Entry(e)) => format!(
            "ok gpa={:#x} assigned={} size={} immutable={} asid={}",
            e.gpa.get(),
            e.assigned,
            if e.pagesize & 1 == 1 { "2M" } else { "4K" },
            e.immutable,
            e.asid.get()
        ),
        Err(e) => e.to_string(),
    }
}

fn sz(s: PageSize) -> &'static str {
    s.as_str()
}

impl Op {
    /// The actor performing this operation.
    pub fn actor(&self) -> Actor {
        match self {
            Op::NptMap { .. }
            | Op::NptUnmap { .. }
            | Op::HostWrite { .. }
            | Op::HostRead { .. }
            | Op::RmpUpdate { .. }
            | Op::Psmash { .. }
            | Op::RmpRead { .. } => Actor::Host,
            Op::LaunchStart { .. }
            | Op::LaunchUpdate { .. }
            | Op::PageReclaim { .. }
            | Op::PageMove { .. }
            | Op::SwapOut { .. }
            | Op::SwapIn { .. } => Actor::Sp,
            Op::Write { asid, vmpl, .. }
            | Op::Read { asid, vmpl, .. }
            | Op::Fetch { asid, vmpl, .. }
            | Op::Pvalidate { asid, vmpl, .. }
            | Op::RmpAdjust { asid, vmpl, .. } => Actor::Guest {
                asid: *asid,
                vmpl: *vmpl,
            },
        }
    }

    /// Runs the operation on `m`.
    pub fn execute(&self, m: &mut Machine) -> OpResult {
        let done = |r: Result<(), OpError>| r.map(|()| OpOk::Done);
        let rmp = |s: super::rmp::RmpStatus| match s {
            super::rmp::RmpStatus::SUCCESS => Ok(OpOk::Done),
            e => Err(OpError::Rmp(e)),
        };
        match self {
            Op::NptMap {
                asid,
                gpa,
                spa,
                size,
            } => done(m.npt_map(*asid, *gpa, *spa, *size)),
            Op::NptUnmap { asid, gpa } => done(m.npt_unmap(*asid, *gpa)),
            Op::HostWrite { spa, data } => done(m.host_write(*spa, data)),
            Op::HostRead { spa, len } => m.host_read(*spa, *len).map(OpOk::Data),
            Op::RmpUpdate {
                spa,
                gpa,
                assigned,
                size,
                immutable,
                asid,
            } => rmp(m.rmpupdate(
                *spa,
                &RmpUpdateInput {
                    gpa: (*gpa).into(),
                    assigned: u8::from(*assigned),
                    pagesize: u8::from(*size == PageSize::Size2M),
                    immutable: u8::from(*immutable),
                    _rsvd_0x0b: 0,
                    asid: (*asid).into(),
                },
            )),
            Op::Psmash { spa } => rmp(m.psmash(*spa)),
            Op::RmpRead { spa } => m.rmpread(*spa).map(OpOk::Entry).map_err(OpError::Rmp),
            Op::LaunchStart { asid, policy } => done(m.launch_start(*asid, *policy)),
            Op::LaunchUpdate { asid, spa } => done(m.launch_update(*asid, *spa)),
            Op::PageReclaim { spa } => done(m.page_reclaim(*spa)),
            Op::PageMove { asid, src, dst } => done(m.page_move(*asid, *src, *dst)),
            Op::SwapOut { asid, spa } => m.page_swap_out(*asid, *spa).map(OpOk::Slot),
            Op::SwapIn { asid, slot, dst } => done(m.page_swap_in(*asid, *slot, *dst)),
            Op::Write {
                asid,
                vmpl,
                gpa,
                private,
                data,
            } => done(if *private {
                m.guest_write_private(*asid, *vmpl, *gpa, data)
            } else {
                m.guest_write_shared(*asid, *gpa, data)
            }),
            Op::Read {
                asid,
                vmpl,
                gpa,
                private,
                len,
            } => if *private {
                m.guest_read_private(*asid, *vmpl, *gpa, *len)
            } else {
                m.guest_read_shared(*asid, *gpa, *len)
            }
            .map(OpOk::Data),
            Op::Fetch { asid, vmpl, gpa } => m
                .check_private(*asid, *vmpl, *gpa, Access::Fetch)
                .map(|_| OpOk::Done),
            Op::Pvalidate {
                asid,
                vmpl,
                gpa,
                size,
                validate,
            } => m
                .pvalidate(*asid, *vmpl, *gpa, *size, *validate)
                .map(OpOk::Cf),
            Op::RmpAdjust {
                asid,
                vmpl,
                gpa,
                size,
                target,
                perms,
            } => done(m.rmpadjust(*asid, *vmpl, *gpa, *size, *target, *perms)),
        }
    }

    /// Runs the operation and returns its trace event.
    pub fn run(&self, m: &mut Machine) -> (OpResult, TraceEvent) {
        let r = self.execute(m);
        let ev = TraceEvent {
            actor: self.actor().to_string(),
            op: self.to_string(),
            result: result_text(&r),
        };
        (r, ev)
    }

    /// Parses an operation from its actor and op text.
    pub fn parse(actor: &str, op: &str) -> Result<Self, String> {
        let actor = Actor::parse(actor)?;
        let mut words = op.split_whitespace();
        let name = words.next().ok_or("empty op")?;
        let mut kv = BTreeMap::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("op {name}: {w:?} is not key=value"))?;
            kv.insert(k, v);
        }
        let get = |k: &str| -> Result<&str, String> {
            kv.get(k)
                .copied()
                .ok_or_else(|| format!("op {name}: missing {k}="))
        };
        let num = |k: &str| -> Result<u64, String> {
            let v = get(k)?;
            let r = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            };
            r.map_err(|_| format!("op {name}: {k}={v} is not a number"))
        };
        let small = |k: &str| -> Result<u32, String> {
            u32::try_from(num(k)?).map_err(|_| format!("op {name}: {k} out of range"))
        };
        let byte = |k: &str| -> Result<u8, String> {
            u8::try_from(num(k)?).map_err(|_| format!("op {name}: {k} out of range"))
        };
        let flag = |k: &str| -> Result<bool, String> {
            match get(k)? {
                "0" => Ok(false),
                "1" => Ok(true),
                v => Err(format!("op {name}: {k}={v} is not 0 or 1")),
            }
        };
        let size = |k: &str| -> Result<PageSize, String> {
            match get(k)? {
                "4K" => Ok(PageSize::Size4K),
                "2M" => Ok(PageSize::Size2M),
                v => Err(format!("op {name}: {k}={v} is not 4K or 2M")),
            }
        };
        let bytes = |k: &str| -> Result<Vec<u8>, String> {
            hex::decode(get(k)?).map_err(|e| format!("op {name}: {k}: {e}"))
        };
        let len = |k: &str| -> Result<usize, String> {
            usize::try_from(num(k)?).map_err(|_| format!("op {name}: {k} out of range"))
        };
        let op = match (actor, name) {
            (Actor::Host, "NPT_MAP") => Op::NptMap {
                asid: small("asid")?,
                gpa: num("gpa")?,
                spa: num("spa")?,
                size: size("size")?,
            },
            (Actor::Host, "NPT_UNMAP") => Op::NptUnmap {
                asid: small("asid")?,
                gpa: num("gpa")?,
            },
            (Actor::Host, "WRITE") => Op::HostWrite {
                spa: num("spa")?,
                data: bytes("data")?,
            },
            (Actor::Host, "READ") => Op::HostRead {
                spa: num("spa")?,
                len: len("len")?,
            },
            (Actor::Host, "RMPUPDATE") => Op::RmpUpdate {
                spa: num("spa")?,
                gpa: num("gpa")?,
                assigned: flag("assigned")?,
                size: size("size")?,
                immutable: flag("immutable")?,
                asid: small("asid")?,
            },
            (Actor::Host, "PSMASH") => Op::Psmash { spa: num("spa")? },
            (Actor::Host, "RMPREAD") => Op::RmpRead { spa: num("spa")? },
            (Actor::Sp, "SNP_LAUNCH_START") => Op::LaunchStart {
                asid: small("asid")?,
                policy: num("policy")?,
            },
            (Actor::Sp, "SNP_LAUNCH_UPDATE") => Op::LaunchUpdate {
                asid: small("asid")?,
                spa: num("spa")?,
            },
            (Actor::Sp, "SNP_PAGE_RECLAIM") => Op::PageReclaim { spa: num("spa")? },
            (Actor::Sp, "SNP_PAGE_MOVE") => Op::PageMove {
                asid: small("asid")?,
                src: num("src")?,
                dst: num("dst")?,
            },
            (Actor::Sp, "SNP_PAGE_SWAP_OUT") => Op::SwapOut {
                asid: small("asid")?,
                spa: num("spa")?,
            },
            (Actor::Sp, "SNP_PAGE_SWAP_IN") => Op::SwapIn {
                asid: small("asid")?,
                slot: len("slot")?,
                dst: num("dst")?,
            },
            (Actor::Guest { asid, vmpl }, "WRITE") => Op::Write {
                asid,
                vmpl,
                gpa: num("gpa")?,
                private: flag("c")?,
                data: bytes("data")?,
            },
            (Actor::Guest { asid, vmpl }, "READ") => Op::Read {
                asid,
                vmpl,
                gpa: num("gpa")?,
                private: flag("c")?,
                len: len("len")?,
            },
            (Actor::Guest { asid, vmpl }, "FETCH") => Op::Fetch {
                asid,
                vmpl,
                gpa: num("gpa")?,
            },
            (Actor::Guest { asid, vmpl }, "PVALIDATE") => Op::Pvalidate {
                asid,
                vmpl,
                gpa: num("gpa")?,
                size: size("size")?,
                validate: flag("validate")?,
            },
            (Actor::Guest { asid, vmpl }, "RMPADJUST") => Op::RmpAdjust {
                asid,
                vmpl,
                gpa: num("gpa")?,
                size: size("size")?,
                target: byte("vmpl")?,
                perms: byte("perms")?,
            },
            (a, n) => return Err(format!("actor {a} has no operation {n:?}")),
        };
        Ok(op)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::NptMap {
                asid,
                gpa,
                spa,
                size,
            } => write!(
                f,
                "NPT_MAP asid={asid} gpa={gpa:#x} spa={spa:#x} size={}",
                sz(*size)
            ),
            Op::NptUnmap { asid, gpa } => write!(f, "NPT_UNMAP asid={asid} gpa={gpa:#x}"),
            Op::HostWrite { spa, data } => {
                write!(f, "WRITE spa={spa:#x} data={}", hex::encode(data))
            }
            Op::HostRead { spa, len } => write!(f, "READ spa={spa:#x} len={len}"),
            Op::RmpUpdate {
                spa,
                gpa,
                assigned,
                size,
                immutable,
                asid,
            } => write!(
                f,
                "RMPUPDATE spa={spa:#x} gpa={gpa:#x} assigned={} size={} immutable={} asid={asid}",
                u8::from(*assigned),
                sz(*size),
                u8::from(*immutable)
            ),
            Op::Psmash { spa } => write!(f, "PSMASH spa={spa:#x}"),
            Op::RmpRead { spa } => write!(f, "RMPREAD spa={spa:#x}"),
            Op::LaunchStart { asid, policy } => {
                write!(f, "SNP_LAUNCH_START asid={asid} policy={policy:#x}")
            }
            Op::LaunchUpdate { asid, spa } => {
                write!(f, "SNP_LAUNCH_UPDATE asid={asid} spa={spa:#x}")
            }
            Op::PageReclaim { spa } => write!(f, "SNP_PAGE_RECLAIM spa={spa:#x}"),
            Op::PageMove { asid, src, dst } => {
                write!(f, "SNP_PAGE_MOVE asid={asid} src={src:#x} dst={dst:#x}")
            }
            Op::SwapOut { asid, spa } => write!(f, "SNP_PAGE_SWAP_OUT asid={asid} spa={spa:#x}"),
            Op::SwapIn { asid, slot, dst } => {
                write!(f, "SNP_PAGE_SWAP_IN asid={asid} slot={slot} dst={dst:#x}")
            }
            Op::Write {
                gpa, private, data, ..
            } => write!(
                f,
                "WRITE gpa={gpa:#x} c={} data={}",
                u8::from(*private),
                hex::encode(data)
            ),
            Op::Read {
                gpa, private, len, ..
            } => write!(f, "READ gpa={gpa:#x} c={} len={len}", u8::from(*private)),
            Op::Fetch { gpa, .. } => write!(f, "FETCH gpa={gpa:#x}"),
            Op::Pvalidate {
                gpa,
                size,
                validate,
                ..
            } => write!(
                f,
                "PVALIDATE gpa={gpa:#x} size={} validate={}",
                sz(*size),
                u8::from(*validate)
            ),
            Op::RmpAdjust {
                gpa,
                size,
                target,
                perms,
                ..
            } => write!(
                f,
                "RMPADJUST gpa={gpa:#x} size={} vmpl={target} perms={perms:#x}",
                sz(*size)
            ),
        }
    }
}
