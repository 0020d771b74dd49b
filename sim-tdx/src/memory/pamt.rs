//! The PAMT: one entry per 4 KiB page of TDX memory (tdx.md §5.4, `pamt_manager.h`).
//!
//! Hardware keeps a 3-level PAMT (1G → 2M → 4K). The model keeps one entry per 4 KiB frame; a 2 MiB
//! page sets all 512 entries to the same type and owner with `size = Size2M` and keeps its BEPOCH on
//! the first, which is what a 4K lookup through the hardware's hierarchy finds.

use std::collections::BTreeMap;

/// PAMT page type (`pt`, 8 bits).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PageType {
    /// 0: free (not directly assigned).
    PT_NDA = 0,
    /// 1: reserved.
    PT_RSVD = 1,
    /// 3: TD private page.
    PT_REG = 3,
    /// 4: TD root.
    PT_TDR = 4,
    /// 5: TDCS page.
    PT_TDCX = 5,
    /// 6: vCPU root.
    PT_TDVPR = 6,
    /// 8: Secure EPT page.
    PT_EPT = 8,
}

/// Size of the page an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageSize {
    /// 4 KiB.
    Size4K,
    /// 2 MiB.
    Size2M,
}

/// One PAMT entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PamtEntry {
    /// Page type.
    pub pt: PageType,
    /// Owner: the TDR's physical page number (40 bits in hardware).
    pub owner: u64,
    /// BLOCK epoch.
    pub bepoch: u64,
    /// Page size.
    pub size: PageSize,
}

impl Default for PamtEntry {
    fn default() -> Self {
        Self {
            pt: PageType::PT_NDA,
            owner: 0,
            bepoch: 0,
            size: PageSize::Size4K,
        }
    }
}

/// The PAMT over the TDMR (frames `0..len`), stored sparsely: absent entries are PT_NDA.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pamt {
    len: u64,
    entries: BTreeMap<u64, PamtEntry>,
    nda: PamtEntry,
}

impl Pamt {
    /// A PAMT with every page PT_NDA.
    pub fn new(frames: usize) -> Self {
        Self {
            len: frames as u64,
            entries: BTreeMap::new(),
            nda: PamtEntry::default(),
        }
    }

    /// Frames covered.
    pub fn len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    /// Whether no frame is covered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry of frame `pfn`, `None` outside the TDMR.
    pub fn get(&self, pfn: u64) -> Option<&PamtEntry> {
        if pfn >= self.len {
            return None;
        }
        Some(self.entries.get(&pfn).unwrap_or(&self.nda))
    }

    /// Sets the entry of frame `pfn` (inside the TDMR); BEPOCH updates go through here too.
    pub fn set(&mut self, pfn: u64, e: PamtEntry) {
        if pfn >= self.len {
            return;
        }
        if e == PamtEntry::default() {
            self.entries.remove(&pfn);
        } else {
            self.entries.insert(pfn, e);
        }
    }

    /// Sets the BEPOCH of frame `pfn`.
    pub fn set_bepoch(&mut self, pfn: u64, bepoch: u64) {
        if let Some(mut e) = self.get(pfn).copied() {
            e.bepoch = bepoch;
            self.set(pfn, e);
        }
    }

    /// Sets `count` consecutive entries from `pfn`.
    pub fn set_range(&mut self, pfn: u64, count: u64, e: PamtEntry) {
        for p in pfn..pfn.saturating_add(count) {
            self.set(p, e);
        }
    }

    /// Every (pfn, entry) that is not PT_NDA.
    pub fn assigned(&self) -> impl Iterator<Item = (u64, &PamtEntry)> {
        self.entries
            .iter()
            .filter(|(_, e)| e.pt != PageType::PT_NDA)
            .map(|(i, e)| (*i, e))
    }
}
