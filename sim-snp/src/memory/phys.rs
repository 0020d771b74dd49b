//! System physical memory, sparse in 4 KiB DRAM frames: a frame exists once something is written to it,
//! so cost grows with the pages touched, not with the address-space size. Untouched memory reads as zero.
//!
//! An optional BadRAM-style DIMM (snp.md §6, BadRAM, IEEE S&P 2025) makes a range of system physical
//! addresses alias the DRAM cells of another range: both addresses reach the same frame.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::engine::Page;
use super::types::PAGE_4K;

/// A multiplicative hasher for page and frame numbers (Fibonacci hashing). The keys are addresses the
/// model itself produces, so SipHash's flooding resistance buys nothing and costs most of an access.
#[derive(Clone, Copy, Debug, Default)]
pub struct PfnHasher(u64);

impl Hasher for PfnHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A hash map keyed by page or frame numbers.
pub type PfnMap<V> = HashMap<u64, V, BuildHasherDefault<PfnHasher>>;

/// A BadRAM alias: `len` bytes of system physical addresses from `alias` reach the DRAM of `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadRam {
    /// First aliasing system physical address (4 KiB aligned).
    pub alias: u64,
    /// First aliased system physical address (4 KiB aligned).
    pub target: u64,
    /// Length in bytes (a multiple of 4 KiB).
    pub len: u64,
}

/// Sparse physical memory.
#[derive(Clone, Debug, Default)]
pub struct PhysMem {
    frames: PfnMap<Box<Page>>,
    alias: Option<BadRam>,
}

impl PhysMem {
    /// Empty memory, with an optional aliasing DIMM.
    pub fn new(alias: Option<BadRam>) -> Self {
        Self {
            frames: PfnMap::default(),
            alias,
        }
    }

    /// Removes the alias (what a platform that finds one at boot must do before reporting
    /// ALIAS_CHECK_COMPLETE).
    pub fn drop_alias(&mut self) {
        self.alias = None;
    }

    /// The DRAM frame number that system physical address `spa` reaches.
    fn frame_of(&self, spa: u64) -> u64 {
        if let Some(a) = self.alias {
            if spa >= a.alias && spa - a.alias < a.len {
                return (a.target + (spa - a.alias)) / PAGE_4K;
            }
        }
        spa / PAGE_4K
    }

    /// The page at `spa` (4 KiB aligned down), if it was ever written.
    pub fn page(&self, spa: u64) -> Option<&Page> {
        self.frames.get(&self.frame_of(spa)).map(|b| &**b)
    }

    /// The page at `spa`, created (zero) if new.
    pub fn page_mut(&mut self, spa: u64) -> &mut Page {
        let f = self.frame_of(spa);
        self.frames
            .entry(f)
            .or_insert_with(|| Box::new([0u8; 4096]))
    }

    /// A copy of the page at `spa` (zero if untouched).
    pub fn read_page(&self, spa: u64) -> Page {
        self.page(spa).copied().unwrap_or([0u8; 4096])
    }

    /// Reads `out.len()` bytes at `spa`; the range must not cross a page.
    pub fn read(&self, spa: u64, out: &mut [u8]) {
        let off = (spa % PAGE_4K) as usize;
        match self.page(spa).and_then(|p| p.get(off..off + out.len())) {
            Some(src) => out.copy_from_slice(src),
            None => out.fill(0),
        }
    }

    /// Writes `data` at `spa`; the range must not cross a page (bytes past the page end are dropped).
    pub fn write(&mut self, spa: u64, data: &[u8]) {
        let off = (spa % PAGE_4K) as usize;
        let page = self.page_mut(spa);
        let end = (off + data.len()).min(4096);
        if let (Some(dst), Some(src)) = (page.get_mut(off..end), data.get(..end - off)) {
            dst.copy_from_slice(src);
        }
    }

    /// Number of DRAM frames touched.
    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Bytes of host memory the model spends on the frames: page data, boxes and the hash table.
    pub fn bytes_used(&self) -> usize {
        let per_slot = std::mem::size_of::<(u64, Box<Page>)>() + 1;
        self.frames.len() * 4096 + self.frames.capacity() * per_slot
    }
}
