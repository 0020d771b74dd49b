//! The PAMT: one entry per 4 KiB page of TDX memory (tdx.md §5.4, `pamt_manager.h`).
//!
//! Hardware keeps a 3-level PAMT (1G → 2M → 4K). The model keeps one entry per 4 KiB frame; a 2 MiB
//! page sets all 512 entries to the same type and owner with `size = Size2M` and keeps its BEPOCH on
//! the first, which is what a 4K lookup through the hardware's hierarchy finds.

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

/// The PAMT over the TDMR (frames `0..len`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pamt {
    entries: Vec<PamtEntry>,
}

impl Pamt {
    /// A PAMT with every page PT_NDA.
    pub fn new(frames: usize) -> Self {
        Self {
            entries: vec![PamtEntry::default(); frames],
        }
    }

    /// Frames covered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no frame is covered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of frame `pfn`, `None` outside the TDMR.
    pub fn get(&self, pfn: u64) -> Option<&PamtEntry> {
        self.entries.get(usize::try_from(pfn).ok()?)
    }

    /// Mutable entry.
    pub fn get_mut(&mut self, pfn: u64) -> Option<&mut PamtEntry> {
        self.entries.get_mut(usize::try_from(pfn).ok()?)
    }

    /// Sets `count` consecutive entries from `pfn`.
    pub fn set_range(&mut self, pfn: u64, count: u64, e: PamtEntry) {
        for p in pfn..pfn.saturating_add(count) {
            if let Some(x) = self.get_mut(p) {
                *x = e;
            }
        }
    }

    /// Every (pfn, entry) that is not PT_NDA.
    pub fn assigned(&self) -> impl Iterator<Item = (u64, &PamtEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.pt != PageType::PT_NDA)
            .map(|(i, e)| (i as u64, e))
    }
}
