//! Operations on the model as data: what the host, the guest and a physical attacker can do, with a
//! one-line text form (`TDH.MEM.PAGE.AUG tdr=0x1000 gpa=0x200000 level=0 page=0x9000`) that traces
//! record and replay parses back.

use std::collections::BTreeMap;
use std::fmt;

use sim_core::scenario::TraceEvent;

use super::errors::TdxError;
use super::guest::{Entry, GuestEvent, TdExit};
use super::seamcall::{LeafOut, TdxModule};
use super::tme::{self, HostAccessError, PAGE_SIZE};

/// Who performs an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The VMM (SEAMCALLs, its own memory accesses and shared EPT).
    Host,
    /// Software inside the TD (through one vCPU).
    Guest,
    /// A physical attacker (bus interposer, DIMM access).
    Physical,
}

impl Actor {
    /// Name used in traces.
    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Guest => "guest",
            Self::Physical => "physical",
        }
    }
}

/// One operation. Addresses are physical addresses (host) or GPAs (guest).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    MngCreate {
        tdr: u64,
        hkid: u64,
    },
    MngKeyConfig {
        tdr: u64,
    },
    MngAddCx {
        tdr: u64,
        page: u64,
    },
    MngInit {
        tdr: u64,
        attributes: u64,
    },
    VpCreate {
        tdr: u64,
        tdvpr: u64,
    },
    VpInit {
        tdvpr: u64,
    },
    SeptAdd {
        tdr: u64,
        gpa: u64,
        level: u64,
        page: u64,
    },
    SeptRemove {
        tdr: u64,
        gpa: u64,
        level: u64,
    },
    SeptRd {
        tdr: u64,
        gpa: u64,
        level: u64,
    },
    PageAdd {
        tdr: u64,
        gpa: u64,
        page: u64,
        source: u64,
    },
    MrExtend {
        tdr: u64,
        gpa: u64,
    },
    MrFinalize {
        tdr: u64,
    },
    PageAug {
        tdr: u64,
        gpa: u64,
        level: u64,
        page: u64,
    },
    RangeBlock {
        tdr: u64,
        gpa: u64,
        level: u64,
    },
    RangeUnblock {
        tdr: u64,
        gpa: u64,
        level: u64,
    },
    Track {
        tdr: u64,
    },
    PageRemove {
        tdr: u64,
        gpa: u64,
        level: u64,
    },
    PageRelocate {
        tdr: u64,
        gpa: u64,
        page: u64,
    },
    PageDemote {
        tdr: u64,
        gpa: u64,
        level: u64,
        page: u64,
    },
    PagePromote {
        tdr: u64,
        gpa: u64,
        level: u64,
    },
    VpEnter {
        tdvpr: u64,
    },
    VpEnterTimer {
        tdvpr: u64,
        tsc: u64,
    },
    VpFlushDone {
        tdr: u64,
    },
    KeyFreeId {
        tdr: u64,
    },
    PageReclaim {
        page: u64,
    },
    PageWbinvd {
        page: u64,
    },
    Ipi {
        tdvpr: u64,
    },
    HostRead {
        pa: u64,
        keyid: u64,
        len: u64,
    },
    HostWrite {
        pa: u64,
        keyid: u64,
        byte: u64,
        len: u64,
    },
    SharedMap {
        tdr: u64,
        gpa: u64,
        hpa: u64,
        keyid: u64,
    },
    Load {
        tdvpr: u64,
        gpa: u64,
    },
    Store {
        tdvpr: u64,
        gpa: u64,
        byte: u64,
    },
    Accept {
        tdvpr: u64,
        gpa: u64,
        level: u64,
    },
    RtmrExtend {
        tdvpr: u64,
        gpa: u64,
        index: u64,
    },
    MrReport {
        tdvpr: u64,
        gpa: u64,
        data: u64,
    },
    VmCall {
        tdvpr: u64,
        r11: u64,
    },
    DramCopyOut {
        pfn: u64,
        slot: u64,
    },
    DramCopyIn {
        pfn: u64,
        slot: u64,
    },
    DramFlip {
        pa: u64,
        bit: u64,
    },
}

macro_rules! ops_table {
    ($( $name:literal => $var:ident { $($f:ident),* } : $actor:ident ),* $(,)?) => {
        impl Op {
            /// The operation's name (the SEAMCALL/TDCALL name where it is one).
            pub fn name(&self) -> &'static str {
                match self { $( Op::$var { .. } => $name, )* }
            }

            /// Who performs it.
            pub fn actor(&self) -> Actor {
                match self { $( Op::$var { .. } => Actor::$actor, )* }
            }

            fn args(&self) -> Vec<(&'static str, u64)> {
                match self { $( Op::$var { $($f),* } => vec![$((stringify!($f), *$f)),*], )* }
            }

            /// Parses the text form.
            pub fn parse(s: &str) -> Result<Op, String> {
                let mut it = s.split_whitespace();
                let name = it.next().ok_or_else(|| "empty operation".to_string())?;
                let mut args = BTreeMap::new();
                for t in it {
                    let (k, v) = t.split_once('=').ok_or_else(|| format!("argument {t:?} is not key=value"))?;
                    let n = match v.strip_prefix("0x") {
                        Some(h) => u64::from_str_radix(h, 16),
                        None => v.parse::<u64>(),
                    }
                    .map_err(|_| format!("argument {k}: {v:?} is not a number"))?;
                    args.insert(k.to_string(), n);
                }
                let get = |k: &str| args.get(k).copied().ok_or_else(|| format!("{name}: missing argument {k}"));
                match name {
                    $( $name => Ok(Op::$var { $($f: get(stringify!($f))?),* }), )*
                    _ => Err(format!("unknown operation {name:?}")),
                }
            }
        }
    };
}

ops_table! {
    "TDH.MNG.CREATE" => MngCreate { tdr, hkid } : Host,
    "TDH.MNG.KEY.CONFIG" => MngKeyConfig { tdr } : Host,
    "TDH.MNG.ADDCX" => MngAddCx { tdr, page } : Host,
    "TDH.MNG.INIT" => MngInit { tdr, attributes } : Host,
    "TDH.VP.CREATE" => VpCreate { tdr, tdvpr } : Host,
    "TDH.VP.INIT" => VpInit { tdvpr } : Host,
    "TDH.MEM.SEPT.ADD" => SeptAdd { tdr, gpa, level, page } : Host,
    "TDH.MEM.SEPT.REMOVE" => SeptRemove { tdr, gpa, level } : Host,
    "TDH.MEM.SEPT.RD" => SeptRd { tdr, gpa, level } : Host,
    "TDH.MEM.PAGE.ADD" => PageAdd { tdr, gpa, page, source } : Host,
    "TDH.MR.EXTEND" => MrExtend { tdr, gpa } : Host,
    "TDH.MR.FINALIZE" => MrFinalize { tdr } : Host,
    "TDH.MEM.PAGE.AUG" => PageAug { tdr, gpa, level, page } : Host,
    "TDH.MEM.RANGE.BLOCK" => RangeBlock { tdr, gpa, level } : Host,
    "TDH.MEM.RANGE.UNBLOCK" => RangeUnblock { tdr, gpa, level } : Host,
    "TDH.MEM.TRACK" => Track { tdr } : Host,
    "TDH.MEM.PAGE.REMOVE" => PageRemove { tdr, gpa, level } : Host,
    "TDH.MEM.PAGE.RELOCATE" => PageRelocate { tdr, gpa, page } : Host,
    "TDH.MEM.PAGE.DEMOTE" => PageDemote { tdr, gpa, level, page } : Host,
    "TDH.MEM.PAGE.PROMOTE" => PagePromote { tdr, gpa, level } : Host,
    "TDH.VP.ENTER" => VpEnter { tdvpr } : Host,
    "TDH.VP.ENTER+TIMER" => VpEnterTimer { tdvpr, tsc } : Host,
    "TDH.MNG.VPFLUSHDONE" => VpFlushDone { tdr } : Host,
    "TDH.MNG.KEY.FREEID" => KeyFreeId { tdr } : Host,
    "TDH.PHYMEM.PAGE.RECLAIM" => PageReclaim { page } : Host,
    "TDH.PHYMEM.PAGE.WBINVD" => PageWbinvd { page } : Host,
    "IPI" => Ipi { tdvpr } : Host,
    "READ" => HostRead { pa, keyid, len } : Host,
    "WRITE" => HostWrite { pa, keyid, byte, len } : Host,
    "SHARED.EPT.MAP" => SharedMap { tdr, gpa, hpa, keyid } : Host,
    "LOAD" => Load { tdvpr, gpa } : Guest,
    "STORE" => Store { tdvpr, gpa, byte } : Guest,
    "TDG.MEM.PAGE.ACCEPT" => Accept { tdvpr, gpa, level } : Guest,
    "TDG.MR.RTMR.EXTEND" => RtmrExtend { tdvpr, gpa, index } : Guest,
    "TDG.MR.REPORT" => MrReport { tdvpr, gpa, data } : Guest,
    "TDG.VP.VMCALL" => VmCall { tdvpr, r11 } : Guest,
    "DRAM.COPYOUT" => DramCopyOut { pfn, slot } : Physical,
    "DRAM.COPYIN" => DramCopyIn { pfn, slot } : Physical,
    "DRAM.FLIP" => DramFlip { pa, bit } : Physical,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        for (k, v) in self.args() {
            match k {
                "hkid" | "level" | "keyid" | "len" | "bit" | "slot" | "index" | "byte" | "tsc" => {
                    write!(f, " {k}={v}")?
                }
                _ => write!(f, " {k}=0x{v:x}")?,
            }
        }
        Ok(())
    }
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A SEAMCALL leaf.
    Leaf(Result<LeafOut, TdxError>),
    /// TDH.VP.ENTER.
    Enter(Result<Entry, TdxError>),
    /// A guest operation.
    Guest(GuestEvent),
    /// A host IPI (the vCPU's exit, if it was running).
    Ipi(Option<TdExit>),
    /// A host memory read.
    HostRead(Result<Vec<u8>, HostAccessError>),
    /// A host memory write or shared-EPT update.
    HostWrite(Result<(), HostAccessError>),
    /// A physical operation (false when the address was outside DRAM or the slot empty).
    Physical(bool),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leaf(Ok(o)) => match o {
                LeafOut::None => write!(f, "TDX_SUCCESS"),
                LeafOut::Warning(s) => write!(f, "{s:?}"),
                LeafOut::Hpa(h) => write!(f, "TDX_SUCCESS hpa=0x{h:x}"),
                LeafOut::Sept(s) => write!(
                    f,
                    "TDX_SUCCESS level={} state={:?} hpa=0x{:x}",
                    s.level, s.state, s.hpa
                ),
                LeafOut::Reclaimed(pt, owner) => {
                    write!(f, "TDX_SUCCESS pt={pt:?} owner=0x{owner:x}")
                }
            },
            Self::Leaf(Err(e)) | Self::Enter(Err(e)) => write!(f, "{e}"),
            Self::Enter(Ok(e)) => write!(f, "TDX_SUCCESS {e}"),
            Self::Guest(g) => write!(f, "{g}"),
            Self::Ipi(Some(e)) => write!(f, "{e}"),
            Self::Ipi(None) => write!(f, "vCPU not running"),
            Self::HostRead(Ok(d)) => write!(f, "ok data={}", hex::encode(d)),
            Self::HostRead(Err(e)) | Self::HostWrite(Err(e)) => write!(f, "{e}"),
            Self::HostWrite(Ok(())) => write!(f, "ok"),
            Self::Physical(true) => write!(f, "ok"),
            Self::Physical(false) => write!(f, "no such frame"),
        }
    }
}

/// Largest host access an operation may ask for (one page).
pub const MAX_HOST_ACCESS: u64 = PAGE_SIZE as u64;

fn level(l: u64) -> u8 {
    u8::try_from(l).unwrap_or(u8::MAX)
}

impl TdxModule {
    /// Performs one operation.
    pub fn apply(&mut self, op: &Op) -> Event {
        use Op::*;
        match *op {
            MngCreate { tdr, hkid } => {
                Event::Leaf(self.tdh_mng_create(tdr, u16::try_from(hkid).unwrap_or(u16::MAX)))
            }
            MngKeyConfig { tdr } => Event::Leaf(self.tdh_mng_key_config(tdr)),
            MngAddCx { tdr, page } => Event::Leaf(self.tdh_mng_addcx(tdr, page)),
            MngInit { tdr, attributes } => Event::Leaf(self.tdh_mng_init(tdr, attributes)),
            VpCreate { tdr, tdvpr } => Event::Leaf(self.tdh_vp_create(tdr, tdvpr)),
            VpInit { tdvpr } => Event::Leaf(self.tdh_vp_init(tdvpr)),
            SeptAdd {
                tdr,
                gpa,
                level: l,
                page,
            } => Event::Leaf(self.tdh_mem_sept_add(tdr, gpa, level(l), page)),
            SeptRemove { tdr, gpa, level: l } => {
                Event::Leaf(self.tdh_mem_sept_remove(tdr, gpa, level(l)))
            }
            SeptRd { tdr, gpa, level: l } => Event::Leaf(self.tdh_mem_sept_rd(tdr, gpa, level(l))),
            PageAdd {
                tdr,
                gpa,
                page,
                source,
            } => Event::Leaf(self.tdh_mem_page_add(tdr, gpa, page, source)),
            MrExtend { tdr, gpa } => Event::Leaf(self.tdh_mr_extend(tdr, gpa)),
            MrFinalize { tdr } => Event::Leaf(self.tdh_mr_finalize(tdr)),
            PageAug {
                tdr,
                gpa,
                level: l,
                page,
            } => Event::Leaf(self.tdh_mem_page_aug(tdr, gpa, level(l), page)),
            RangeBlock { tdr, gpa, level: l } => {
                Event::Leaf(self.tdh_mem_range_block(tdr, gpa, level(l)))
            }
            RangeUnblock { tdr, gpa, level: l } => {
                Event::Leaf(self.tdh_mem_range_unblock(tdr, gpa, level(l)))
            }
            Track { tdr } => Event::Leaf(self.tdh_mem_track(tdr)),
            PageRemove { tdr, gpa, level: l } => {
                Event::Leaf(self.tdh_mem_page_remove(tdr, gpa, level(l)))
            }
            PageRelocate { tdr, gpa, page } => {
                Event::Leaf(self.tdh_mem_page_relocate(tdr, gpa, page))
            }
            PageDemote {
                tdr,
                gpa,
                level: l,
                page,
            } => Event::Leaf(self.tdh_mem_page_demote(tdr, gpa, level(l), page)),
            PagePromote { tdr, gpa, level: l } => {
                Event::Leaf(self.tdh_mem_page_promote(tdr, gpa, level(l)))
            }
            VpEnter { tdvpr } => Event::Enter(self.tdh_vp_enter(tdvpr)),
            VpEnterTimer { tdvpr, tsc } => Event::Enter(self.tdh_vp_enter_timer(tdvpr, tsc)),
            VpFlushDone { tdr } => Event::Leaf(self.tdh_mng_vpflushdone(tdr)),
            KeyFreeId { tdr } => Event::Leaf(self.tdh_mng_key_freeid(tdr)),
            PageReclaim { page } => Event::Leaf(self.tdh_phymem_page_reclaim(page)),
            PageWbinvd { page } => Event::Leaf(self.tdh_phymem_page_wbinvd(page)),
            Ipi { tdvpr } => Event::Ipi(self.vp_exit(tdvpr)),
            HostRead { pa, keyid, len } => {
                let mut buf = vec![0u8; usize::try_from(len.min(MAX_HOST_ACCESS)).unwrap_or(0)];
                let rules = self.rules.clone();
                let k = u16::try_from(keyid).unwrap_or(u16::MAX);
                Event::HostRead(self.mem.host_read(pa, k, &mut buf, &rules).map(|_| buf))
            }
            HostWrite {
                pa,
                keyid,
                byte,
                len,
            } => {
                let n = usize::try_from(len.min(MAX_HOST_ACCESS)).unwrap_or(0);
                let data: Vec<u8> = (0..n).map(|i| (byte as u8) ^ (i as u8)).collect();
                let rules = self.rules.clone();
                let k = u16::try_from(keyid).unwrap_or(u16::MAX);
                Event::HostWrite(self.mem.host_write(pa, k, &data, &rules))
            }
            SharedMap {
                tdr,
                gpa,
                hpa,
                keyid,
            } => {
                let pfn = tdr / PAGE_SIZE as u64;
                let page = gpa & !(PAGE_SIZE as u64 - 1) & !super::seamcall::SHARED_BIT;
                let k = u16::try_from(keyid).unwrap_or(u16::MAX);
                match self.tds.get_mut(&pfn) {
                    Some(td) => {
                        td.shared_ept
                            .insert(page, tme::with_keyid(hpa & !(PAGE_SIZE as u64 - 1), k));
                        Event::HostWrite(Ok(()))
                    }
                    None => Event::HostWrite(Err(HostAccessError::OutOfRange(tdr))),
                }
            }
            Load { tdvpr, gpa } => Event::Guest(self.guest_read(tdvpr, gpa)),
            Store { tdvpr, gpa, byte } => Event::Guest(self.guest_write(tdvpr, gpa, byte as u8)),
            Accept {
                tdvpr,
                gpa,
                level: l,
            } => Event::Guest(self.tdg_mem_page_accept(tdvpr, gpa, level(l))),
            RtmrExtend { tdvpr, gpa, index } => {
                Event::Guest(self.tdg_mr_rtmr_extend(tdvpr, gpa, index))
            }
            MrReport { tdvpr, gpa, data } => Event::Guest(self.tdg_mr_report(tdvpr, gpa, data)),
            VmCall { tdvpr, r11 } => Event::Guest(self.tdg_vp_vmcall(tdvpr, r11)),
            DramCopyOut { pfn, slot } => match self.mem.dram_read(pfn) {
                Some(f) => {
                    self.phys_slots
                        .insert(u32::try_from(slot).unwrap_or(u32::MAX), f);
                    Event::Physical(true)
                }
                None => Event::Physical(false),
            },
            DramCopyIn { pfn, slot } => {
                match self
                    .phys_slots
                    .get(&u32::try_from(slot).unwrap_or(u32::MAX))
                    .cloned()
                {
                    Some(f) => Event::Physical(self.mem.dram_write(pfn, f)),
                    None => Event::Physical(false),
                }
            }
            DramFlip { pa, bit } => Event::Physical(self.mem.dram_flip(pa, (bit % 8) as u8)),
        }
    }

    /// Performs an operation and returns its trace event.
    pub fn step(&mut self, op: &Op) -> (Event, TraceEvent) {
        let ev = self.apply(op);
        let te = TraceEvent {
            actor: op.actor().name().to_string(),
            op: op.to_string(),
            result: ev.to_string(),
        };
        (ev, te)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let ops = [
            Op::PageAug {
                tdr: 0x1000,
                gpa: 0x20_0000,
                level: 0,
                page: 0x9000,
            },
            Op::HostWrite {
                pa: 0x5040,
                keyid: 0,
                byte: 7,
                len: 64,
            },
            Op::DramFlip { pa: 0x5000, bit: 3 },
            Op::VpEnterTimer {
                tdvpr: 0x3000,
                tsc: 100,
            },
        ];
        for op in ops {
            assert_eq!(Op::parse(&op.to_string()), Ok(op.clone()), "{op}");
        }
        assert_eq!(
            Op::PageAug {
                tdr: 0x1000,
                gpa: 0x20_0000,
                level: 0,
                page: 0x9000
            }
            .to_string(),
            "TDH.MEM.PAGE.AUG tdr=0x1000 gpa=0x200000 level=0 page=0x9000"
        );
        assert!(Op::parse("TDH.MEM.PAGE.AUG tdr=0x1000").is_err());
        assert!(Op::parse("NOPE").is_err());
    }
}
