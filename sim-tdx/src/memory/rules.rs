//! The enforcement rules of the TDX memory model (`cvmsim tdx rules`, `--disable-rule ID`).
//!
//! Every check in the model consults one of these IDs; switching a rule off removes exactly that check,
//! so the attack scenarios and the fuzzer can show what each rule is for.

use sim_core::rules::Rule;

/// PAGE.ADD/AUG, SEPT.ADD, MNG.CREATE/ADDCX, VP.CREATE and RELOCATE take only PT_NDA (free) pages.
pub const PAMT_PAGE_FREE: &str = "TDX-PAMT-PAGE-FREE";
/// PHYMEM.PAGE.RECLAIM only reclaims pages of a TD in TEARDOWN.
pub const RECLAIM_TEARDOWN: &str = "TDX-RECLAIM-TEARDOWN";
/// The TDR is reclaimed only once its child count is zero.
pub const TDR_CHILDREN: &str = "TDX-TDR-CHILDREN";
/// A leaf runs only from the SEPT states the state-by-leaf table allows.
pub const SEPT_STATE: &str = "TDX-SEPT-STATE";
/// A leaf runs only in the TD op-states `seamcall_state_lookup` allows.
pub const OP_STATE: &str = "TDX-OP-STATE";
/// REMOVE, RELOCATE, DEMOTE, PROMOTE and SEPT.REMOVE need a *BLOCKED entry while the TD may run.
pub const BLOCK_BEFORE_REMOVE: &str = "TDX-BLOCK-BEFORE-REMOVE";
/// ... and TLB tracking done for the block epoch (TDH.MEM.TRACK plus every vCPU out of it).
pub const TLB_TRACKED: &str = "TDX-TLB-TRACKED";
/// Private HKIDs are usable only in SEAM mode (host accesses, PAGE.ADD source).
pub const KEYID_PRIVATE_SEAM_ONLY: &str = "TDX-KEYID-PRIVATE-SEAM-ONLY";
/// TDH.MNG.CREATE takes only a free private HKID.
pub const HKID_FREE: &str = "TDX-HKID-FREE";
/// Non-TD reads of TD-owned lines return zeros.
pub const TME_OWNER_READ_ZERO: &str = "TDX-TME-OWNER-READ-ZERO";
/// A TD read of a line whose TD-owner bit is clear is poisoned.
pub const TME_OWNER_BIT_CHECK: &str = "TDX-TME-OWNER-BIT-CHECK";
/// Under Ci, a TD read of a line whose MAC does not match is poisoned.
pub const TME_CI_MAC: &str = "TDX-TME-CI-MAC";
/// Consuming a poisoned line is a machine check that makes the TD fatal (VP.ENTER: TDX_TD_FATAL).
pub const MC_TD_FATAL: &str = "TDX-MC-TD-FATAL";
/// TDG.MEM.PAGE.ACCEPT zeroes the page with the TD's key.
pub const ACCEPT_ZERO: &str = "TDX-ACCEPT-ZERO";
/// A TD access to a PENDING page is a #VE only if SEPT_VE_DISABLE is 0, else a TD exit.
pub const SEPT_VE_DISABLE: &str = "TDX-SEPT-VE-DISABLE";
/// Single-step defence: an interrupt exit soon after entry single-steps a random 1..32 instructions.
pub const STEP_SINGLE: &str = "TDX-STEP-SINGLE";
/// Zero-step defence: after 6 EPT faults without progress, entry fails while the GPA still faults.
pub const STEP_ZERO: &str = "TDX-STEP-ZERO";

/// The catalogue, in the order `cvmsim tdx rules` prints it.
pub const CATALOGUE: &[Rule] = &[
    Rule {
        id: PAMT_PAGE_FREE,
        description: "pages handed to the TDX module must be PT_NDA in the PAMT (TDX_PAGE_METADATA_INCORRECT)",
        spec: "tdx.md §5.4; pamt_manager.h, check_lock_and_map_explicit_private_4k_hpa",
    },
    Rule {
        id: RECLAIM_TEARDOWN,
        description: "TDH.PHYMEM.PAGE.RECLAIM only for pages of a TD in TEARDOWN (TDX_LIFECYCLE_STATE_INCORRECT)",
        spec: "tdx.md §5.4; tdh_phymem_page_reclaim.c",
    },
    Rule {
        id: TDR_CHILDREN,
        description: "the TDR is reclaimed only when its child count is 0 (TDX_TD_ASSOCIATED_PAGES_EXIST)",
        spec: "tdx.md §5.4; tdh_phymem_page_reclaim.c",
    },
    Rule {
        id: SEPT_STATE,
        description: "each leaf runs only from the SEPT states of the state-by-leaf table (TDX_EPT_ENTRY_STATE_INCORRECT)",
        spec: "tdx.md §5.3; sept_state_lookup.c",
    },
    Rule {
        id: OP_STATE,
        description: "each leaf runs only in its allowed TD op-states (TDX_OP_STATE_INCORRECT)",
        spec: "tdx.md §5.2; op_state_lookup.c",
    },
    Rule {
        id: BLOCK_BEFORE_REMOVE,
        description: "REMOVE/RELOCATE/DEMOTE/PROMOTE/SEPT.REMOVE need a *BLOCKED entry while the TD may run (TDX_GPA_RANGE_NOT_BLOCKED)",
        spec: "tdx.md §5.3; tdh_mem_page_remove.c",
    },
    Rule {
        id: TLB_TRACKED,
        description: "... and TLB tracking done since the block epoch (TDX_TLB_TRACKING_NOT_DONE)",
        spec: "tdx.md §5.3; is_tlb_tracked(), tdh_mem_track.c",
    },
    Rule {
        id: KEYID_PRIVATE_SEAM_ONLY,
        description: "private HKIDs are usable only in SEAM mode: host accesses and PAGE.ADD sources use shared KeyIDs",
        spec: "tdx.md §5.6, §5.4; IA32_MKTME_KEYID_PARTITIONING",
    },
    Rule {
        id: HKID_FREE,
        description: "TDH.MNG.CREATE takes only a free private HKID (TDX_HKID_NOT_FREE)",
        spec: "tdx.md §5.2; tdh_mng_create.c",
    },
    Rule {
        id: TME_OWNER_READ_ZERO,
        description: "non-TD reads of TD-owned lines return zeros (no ciphertext disclosure)",
        spec: "tdx.md §5.6, §6 (software ciphertext side channel)",
    },
    Rule {
        id: TME_OWNER_BIT_CHECK,
        description: "a TD read of a line whose TD-owner bit is clear is poisoned",
        spec: "tdx.md §5.6 (logical and cryptographic integrity)",
    },
    Rule {
        id: TME_CI_MAC,
        description: "under cryptographic integrity a TD read of a line whose 28-bit MAC does not match is poisoned",
        spec: "tdx.md §5.6 (cryptographic integrity)",
    },
    Rule {
        id: MC_TD_FATAL,
        description: "consuming a poisoned line is a machine check; the TD becomes fatal and TDH.VP.ENTER returns TDX_TD_FATAL",
        spec: "tdx.md §5.6",
    },
    Rule {
        id: ACCEPT_ZERO,
        description: "TDG.MEM.PAGE.ACCEPT zeroes the page with the TD's key before it is MAPPED",
        spec: "tdx.md §5.3 (zero_area_cacheline)",
    },
    Rule {
        id: SEPT_VE_DISABLE,
        description: "an access to a PENDING page is a #VE only when ATTRIBUTES.SEPT_VE_DISABLE is 0, else a TD exit",
        spec: "tdx.md §5.3 (td_ept_violation.c), §6",
    },
    Rule {
        id: STEP_SINGLE,
        description: "an interrupt exit within 4096 TSC of entry single-steps a random 1..32 more instructions",
        spec: "tdx.md §5.7 (td_exit_stepping.c)",
    },
    Rule {
        id: STEP_ZERO,
        description: "after 6 EPT faults without progress, TD entry fails while a logged GPA would fault again",
        spec: "tdx.md §5.7 (STEPPING_EPF_THRESHOLD)",
    },
];
