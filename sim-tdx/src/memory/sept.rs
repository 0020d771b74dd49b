//! Secure EPT entries and their states (tdx.md §5.3, `sept_state_lookup.h`).
//!
//! Levels follow the TDX ABI: 0 = 4 KiB leaf (PT entry), 1 = 2 MiB (PD), 2 = 1 GiB (PDPT), 3 = PML4
//! (the root page, allocated with the TDCS). A SEPT entry at level L exists once the entry at level L+1
//! covering it is a non-leaf (NL_*) entry; an absent entry is FREE.

use std::collections::BTreeMap;

/// SEPT entry state, with its 7-bit encoding and the public state TDH.MEM.SEPT.RD returns.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeptState {
    /// Unused entry.
    FREE,
    /// Removed during import.
    REMOVED,
    /// Non-leaf, present.
    NL_MAPPED,
    /// Non-leaf, blocked.
    NL_BLOCKED,
    /// Leaf, guest accessible.
    MAPPED,
    /// Leaf, no new TLB fills.
    BLOCKED,
    /// Leaf, write-blocked (migration).
    BLOCKEDW,
    /// Leaf, AUG'ed, awaiting TDG.MEM.PAGE.ACCEPT.
    PENDING,
    /// PENDING and blocked.
    PENDING_BLOCKED,
    /// PENDING and write-blocked (migration).
    PENDING_BLOCKEDW,
}

impl SeptState {
    /// The 7-bit state encoding (`sept_state_lookup.h`).
    pub const fn encoding(self) -> u8 {
        match self {
            Self::FREE => 0x0E,
            Self::REMOVED => 0x0C,
            Self::NL_MAPPED => 0x00,
            Self::NL_BLOCKED => 0x08,
            Self::MAPPED => 0x60,
            Self::BLOCKED => 0x68,
            Self::BLOCKEDW => 0x64,
            Self::PENDING => 0x70,
            Self::PENDING_BLOCKED => 0x78,
            Self::PENDING_BLOCKEDW => 0x74,
        }
    }

    /// The public state TDH.MEM.SEPT.RD reports.
    pub const fn public(self) -> u8 {
        match self {
            Self::FREE => 0,
            Self::REMOVED => 5,
            Self::NL_MAPPED => 132,
            Self::NL_BLOCKED => 129,
            Self::MAPPED => 4,
            Self::BLOCKED => 1,
            Self::BLOCKEDW => 8,
            Self::PENDING => 2,
            Self::PENDING_BLOCKED => 3,
            Self::PENDING_BLOCKEDW => 16,
        }
    }

    /// Whether the entry maps a page (a leaf).
    pub const fn is_leaf(self) -> bool {
        matches!(
            self,
            Self::MAPPED
                | Self::BLOCKED
                | Self::BLOCKEDW
                | Self::PENDING
                | Self::PENDING_BLOCKED
                | Self::PENDING_BLOCKEDW
        )
    }

    /// Whether the entry points to a lower SEPT page.
    pub const fn is_non_leaf(self) -> bool {
        matches!(self, Self::NL_MAPPED | Self::NL_BLOCKED)
    }

    /// Any *BLOCKED state (not BLOCKEDW).
    pub const fn is_blocked(self) -> bool {
        matches!(
            self,
            Self::BLOCKED | Self::PENDING_BLOCKED | Self::NL_BLOCKED
        )
    }

    /// Any PENDING state.
    pub const fn is_pending(self) -> bool {
        matches!(
            self,
            Self::PENDING | Self::PENDING_BLOCKED | Self::PENDING_BLOCKEDW
        )
    }
}

/// A SEPT entry: state and the physical address it points to (page or lower SEPT page).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeptEntry {
    /// State.
    pub state: SeptState,
    /// Physical address (HKID bits clear) of the mapped page or SEPT page.
    pub hpa: u64,
}

/// Bytes mapped by one entry at `level`.
pub const fn level_size(level: u8) -> u64 {
    4096u64 << (9 * level as u32)
}

/// One TD's Secure EPT.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sept {
    entries: BTreeMap<(u8, u64), SeptEntry>,
}

/// Top level of the 4-level SEPT (the PML4 root lives in the TDCS).
pub const ROOT_LEVEL: u8 = 3;

impl Sept {
    /// The entry at `level` covering `gpa` (FREE when absent).
    pub fn entry(&self, level: u8, gpa: u64) -> SeptEntry {
        let base = gpa & !(level_size(level) - 1);
        self.entries
            .get(&(level, base))
            .copied()
            .unwrap_or(SeptEntry {
                state: SeptState::FREE,
                hpa: 0,
            })
    }

    /// Sets the entry at `level` covering `gpa`; FREE removes it.
    pub fn set(&mut self, level: u8, gpa: u64, e: SeptEntry) {
        let base = gpa & !(level_size(level) - 1);
        if e.state == SeptState::FREE {
            self.entries.remove(&(level, base));
        } else {
            self.entries.insert((level, base), e);
        }
    }

    /// Walks from the root towards `level`: `Ok(())` when every entry above `level` is a non-leaf
    /// (so the entry at `level` exists); else `Err(level reached)` — the level of the first entry that is
    /// a leaf or not present.
    pub fn walk(&self, gpa: u64, level: u8) -> Result<(), u8> {
        let mut l = ROOT_LEVEL;
        while l > level {
            if !self.entry(l, gpa).state.is_non_leaf() {
                return Err(l);
            }
            l -= 1;
        }
        Ok(())
    }

    /// The leaf mapping `gpa`, if any: (level, entry).
    pub fn leaf(&self, gpa: u64) -> Option<(u8, SeptEntry)> {
        let mut l = ROOT_LEVEL;
        loop {
            let e = self.entry(l, gpa);
            if e.state.is_leaf() {
                return Some((l, e));
            }
            if !e.state.is_non_leaf() || l == 0 {
                return None;
            }
            l -= 1;
        }
    }

    /// Every present entry: ((level, gpa base), entry).
    pub fn iter(&self) -> impl Iterator<Item = (&(u8, u64), &SeptEntry)> {
        self.entries.iter()
    }

    /// Whether any entry exists below the non-leaf entry at (`level`, `gpa`).
    pub fn has_children(&self, level: u8, gpa: u64) -> bool {
        if level == 0 {
            return false;
        }
        let base = gpa & !(level_size(level) - 1);
        let end = base + level_size(level);
        self.entries
            .range((level - 1, base)..(level - 1, end))
            .next()
            .is_some()
    }
}
