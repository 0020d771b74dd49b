//! The enforcement rules of the SNP memory model. Each is consulted by the check that implements it, and
//! `--disable-rule ID` switches it off; for every rule a test shows that something breaks without it.

use sim_core::rules::Rule;

/// Host data writes must target hypervisor-owned pages (else `#PF`, error bit 31).
pub const HOST_WRITE: &str = "SNP-RMP-HOST-WRITE";
/// Guest private accesses must target memory the RMP covers (else `#NPF`).
pub const COVERED: &str = "SNP-RMP-COVERED";
/// Guest shared (C=0) data writes must target hypervisor-owned pages (else `#NPF`).
pub const SHARED_WRITE: &str = "SNP-RMP-SHARED-WRITE";
/// Guest private accesses need RMP.ASSIGNED=1 and RMP.ASID = the guest's ASID (else `#NPF`).
pub const GUEST_OWNED: &str = "SNP-RMP-GUEST-OWNED";
/// Guest private accesses need RMP.GPA = the translated GPA (else `#NPF`).
pub const REVERSE_MAP: &str = "SNP-RMP-REVERSE-MAP";
/// Guest private accesses need RMP.IMMUTABLE=0 (else `#NPF`).
pub const MUTABLE: &str = "SNP-RMP-MUTABLE";
/// NPT and RMP page sizes must agree (else `#NPF`).
pub const PAGE_SIZE: &str = "SNP-RMP-PAGE-SIZE";
/// Guest private accesses need RMP.VALIDATED=1 (else `#VC` 0x404).
pub const VALIDATED: &str = "SNP-RMP-VALIDATED";
/// Guest accesses need the VMPL permission (else `#NPF` with bit 36).
pub const VMPL: &str = "SNP-RMP-VMPL";
/// RMPUPDATE always clears VALIDATED.
pub const RMPUPDATE_CLEARS_VALIDATED: &str = "SNP-RMPUPDATE-CLEARS-VALIDATED";
/// RMPUPDATE and PSMASH refuse immutable entries (FAIL_PERMISSION).
pub const RMPUPDATE_IMMUTABLE: &str = "SNP-RMPUPDATE-IMMUTABLE";
/// RMPADJUST only lowers a numerically higher VMPL, and never grants more than the caller holds.
pub const RMPADJUST_NO_ESCALATE: &str = "SNP-RMPADJUST-NO-ESCALATE";
/// Private accesses go through the ASID's key: DRAM holds ciphertext.
pub const MEM_ENCRYPT: &str = "SNP-MEM-ENCRYPT";
/// SNP_PAGE_MOVE / SWAP_OUT / SWAP_IN fail with POLICY_FAILURE when policy bit 25 is set.
pub const PAGE_SWAP_DISABLE: &str = "SNP-SP-PAGE-SWAP-DISABLE";
/// A platform reporting ALIAS_CHECK_COMPLETE has no physical alias.
pub const ALIAS_CHECK: &str = "SNP-PLATFORM-ALIAS-CHECK";

/// The catalogue, in the order of the access-check table, then instructions, then firmware.
pub const RULES: &[Rule] = &[
    Rule {
        id: HOST_WRITE,
        description: "host data writes need a hypervisor-owned page (#PF error bit 31)",
        spec: "APM 15.36.10 Table 15-39 (Hypervisor-Owned); snp.md 4.3",
    },
    Rule {
        id: COVERED,
        description: "guest private accesses need memory covered by the RMP (#NPF)",
        spec: "APM 15.36.10 Table 15-39 (RMP-Covered); APM 15.36.4",
    },
    Rule {
        id: SHARED_WRITE,
        description: "guest shared (C=0) writes need a hypervisor-owned page (#NPF)",
        spec: "APM 15.36.10 Table 15-39 (guest data write, C-bit 0)",
    },
    Rule {
        id: GUEST_OWNED,
        description: "guest private accesses need RMP.ASSIGNED=1 and RMP.ASID = guest ASID (#NPF)",
        spec: "APM 15.36.10 Table 15-39 (Guest-Owned)",
    },
    Rule {
        id: REVERSE_MAP,
        description: "guest private accesses need RMP.GPA = translated GPA (#NPF)",
        spec: "APM 15.36.10 Table 15-39 (Reverse-Map); snp.md 4.6",
    },
    Rule {
        id: MUTABLE,
        description: "guest private accesses need RMP.IMMUTABLE=0 (#NPF)",
        spec: "APM 15.36.10 Table 15-39 (Mutable)",
    },
    Rule {
        id: PAGE_SIZE,
        description: "NPT 2M/1G mapping needs RMP 2M, NPT 4K needs RMP 4K (#NPF)",
        spec: "APM 15.36.10 Table 15-39 (Page-Size)",
    },
    Rule {
        id: VALIDATED,
        description: "guest private accesses need RMP.VALIDATED=1 (#VC 0x404 PAGE_NOT_VALIDATED)",
        spec: "APM 15.36.10 Table 15-39 (Validated); snp.md 4.3",
    },
    Rule {
        id: VMPL,
        description: "guest accesses need the VMPL permission mask (#NPF, EXITINFO1 bit 36)",
        spec: "APM 15.36.10 Table 15-39 (VMPL); APM Table 15-36",
    },
    Rule {
        id: RMPUPDATE_CLEARS_VALIDATED,
        description: "RMPUPDATE always clears RMP.VALIDATED",
        spec: "APM RMPUPDATE; snp.md 4.4",
    },
    Rule {
        id: RMPUPDATE_IMMUTABLE,
        description: "RMPUPDATE and PSMASH fail with FAIL_PERMISSION on an immutable entry",
        spec: "APM RMPUPDATE, PSMASH; snp.md 4.2, 4.4",
    },
    Rule {
        id: RMPADJUST_NO_ESCALATE,
        description:
            "RMPADJUST targets a numerically higher VMPL and grants no more than the caller holds",
        spec: "APM RMPADJUST; snp.md 4.4",
    },
    Rule {
        id: MEM_ENCRYPT,
        description: "private (C=1) accesses are encrypted with the ASID's key, tweaked by the SPA",
        spec: "APM 15.34.2; snp.md 4.7",
    },
    Rule {
        id: PAGE_SWAP_DISABLE,
        description:
            "SNP_PAGE_MOVE/SWAP_OUT/SWAP_IN return POLICY_FAILURE when policy bit 25 is set",
        spec: "SEV-SNP ABI 56860 (PAGE_SWAP_DISABLE); snp.md 1.4",
    },
    Rule {
        id: ALIAS_CHECK,
        description:
            "a platform reporting PLATFORM_INFO.ALIAS_CHECK_COMPLETE has no physical alias",
        spec: "AMD-SB-3015 (BadRAM); snp.md 1.5, 6",
    },
];
