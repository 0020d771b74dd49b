//! SNP_LAUNCH_START, SNP_LAUNCH_UPDATE and SNP_LAUNCH_FINISH (SEV-SNP ABI 56860 §8.16-§8.18; snp.md
//! §3), with the firmware's checks and status codes in AMD's order (AMD-ASPFW `snp_mcmd_launch_*`).

use rand_core::RngCore;
use sha2::{Digest, Sha384};
use zerocopy::IntoBytes;

use super::platform::Platform;
use super::status::FwStatus;
use crate::keys;
use crate::layout::id_block::{IdAuthInfo, IdBlock};
use crate::layout::page_info::{PageInfo, PageType};
use crate::layout::{GuestPolicy, PlatformInfo, TcbVersion};

/// Size of a page.
pub const PAGE_SIZE: usize = 4096;
/// GPA written into PAGE_INFO for VMSA pages.
pub const VMSA_GPA: u64 = 0x0000_FFFF_FFFF_F000;

/// Where a guest is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestState {
    /// Between LAUNCH_START and LAUNCH_FINISH.
    Launching,
    /// After LAUNCH_FINISH.
    Running,
}

/// A guest context (GCTX) as the firmware keeps it.
#[derive(Clone, Debug)]
pub struct Guest {
    /// ASID the hypervisor gave it.
    pub asid: u32,
    /// State.
    pub state: GuestState,
    /// POLICY.
    pub policy: GuestPolicy,
    /// LD: the launch digest so far.
    pub ld: [u8; 48],
    /// VMPCK0-3.
    pub vmpck: [[u8; 32]; 4],
    /// Message counts per VMPCK (the next request must carry count + 1).
    pub msg_count: [u64; 4],
    /// VMRK (root key of derived keys under ROOT_KEY_SELECT 1).
    pub vmrk: [u8; 32],
    /// REPORT_ID.
    pub report_id: [u8; 32],
    /// REPORT_ID_MA (all 0xFF without a migration agent).
    pub report_id_ma: [u8; 32],
    /// FAMILY_ID from the ID block.
    pub family_id: [u8; 16],
    /// IMAGE_ID from the ID block.
    pub image_id: [u8; 16],
    /// GUEST_SVN from the ID block.
    pub guest_svn: u32,
    /// ID_KEY_DIGEST.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST.
    pub author_key_digest: [u8; 48],
    /// AUTHOR_KEY_EN.
    pub author_key_en: bool,
    /// VCEK_DIS from LAUNCH_FINISH.
    pub vcek_disabled: bool,
    /// HOST_DATA.
    pub host_data: [u8; 32],
    /// LAUNCH_TCB.
    pub launch_tcb: TcbVersion,
    /// LAUNCH_MIT_VECTOR.
    pub launch_mit_vector: u64,
}

/// The ID block and its authentication, as given to LAUNCH_FINISH.
#[derive(Clone, Debug)]
pub struct IdBlockInput {
    /// ID_BLOCK.
    pub id_block: IdBlock,
    /// ID_AUTH_INFO.
    pub id_auth: IdAuthInfo,
    /// AUTH_KEY_EN: the author key signs the ID key.
    pub auth_key_en: bool,
}

impl IdBlockInput {
    /// Builds and signs an ID block for `ld` and `policy` with an ID key (and optionally an author key).
    pub fn sign(
        ld: [u8; 48],
        policy: GuestPolicy,
        family_id: [u8; 16],
        image_id: [u8; 16],
        guest_svn: u32,
        id_key: &p384::SecretKey,
        author_key: Option<&p384::SecretKey>,
    ) -> IdBlockInput {
        use zerocopy::FromZeros;
        let mut id_block = IdBlock::new_zeroed();
        id_block.ld = ld;
        id_block.family_id = family_id;
        id_block.image_id = image_id;
        id_block.version.set(1);
        id_block.guest_svn.set(guest_svn);
        id_block.policy.set(policy.0);
        let mut id_auth = IdAuthInfo::new_zeroed();
        id_auth.id_key_algo.set(1);
        id_auth
            .auth_key_algo
            .set(if author_key.is_some() { 1 } else { 0 });
        id_auth.id_block_sig = keys::sign_amd(id_key, id_block.as_bytes());
        id_auth.id_key = keys::amd_public_key(&id_key.public_key());
        if let Some(ak) = author_key {
            id_auth.author_key = keys::amd_public_key(&ak.public_key());
            id_auth.id_key_sig = keys::sign_amd(ak, id_auth.id_key.as_bytes());
        }
        IdBlockInput {
            id_block,
            id_auth,
            auth_key_en: author_key.is_some(),
        }
    }
}

impl Platform {
    /// SNP_LAUNCH_START: checks the policy against the platform (POLICY_FAILURE) and creates a guest
    /// context with fresh VMPCKs, VMRK and REPORT_ID (from the platform's ChaCha20 stream for `asid`).
    pub fn launch_start(&self, asid: u32, policy: GuestPolicy) -> Result<Guest, FwStatus> {
        if asid == 0 {
            return Err(FwStatus::INVALID_PARAM("ASID 0 is the host's"));
        }
        if !policy.has(GuestPolicy::RESERVED_MBO) {
            return Err(FwStatus::POLICY_FAILURE("policy bit 17 must be 1"));
        }
        if policy.0 & GuestPolicy::RESERVED_MBZ != 0 {
            return Err(FwStatus::POLICY_FAILURE("policy bits 63:26 are reserved"));
        }
        let (major, minor, _) = self.config.firmware;
        if (policy.abi_major(), policy.abi_minor()) > (major, minor) {
            return Err(FwStatus::POLICY_FAILURE(
                "policy ABI version is above the firmware's",
            ));
        }
        let pi = self.config.platform_info;
        if pi.has(PlatformInfo::SMT_EN) && !policy.has(GuestPolicy::SMT) {
            return Err(FwStatus::POLICY_FAILURE(
                "SMT is enabled but the policy forbids it",
            ));
        }
        if policy.has(GuestPolicy::MEM_AES_256_XTS) && !self.product().supports_aes256_xts() {
            return Err(FwStatus::POLICY_FAILURE(
                "AES-256-XTS is not supported by this product",
            ));
        }
        if policy.has(GuestPolicy::RAPL_DIS) && !pi.has(PlatformInfo::RAPL_DIS) {
            return Err(FwStatus::POLICY_FAILURE("policy requires RAPL disabled"));
        }
        if policy.has(GuestPolicy::CIPHERTEXT_HIDING)
            && !pi.has(PlatformInfo::CIPHERTEXT_HIDING_DRAM_EN)
        {
            return Err(FwStatus::POLICY_FAILURE(
                "policy requires ciphertext hiding",
            ));
        }
        let mut rng = sim_core::rng::seeded(
            &format!("snp-launch/{}/asid{asid}", self.product().cli_name()),
            self.config.seed,
        );
        let mut vmpck = [[0u8; 32]; 4];
        for k in &mut vmpck {
            rng.fill_bytes(k);
        }
        let mut vmrk = [0u8; 32];
        rng.fill_bytes(&mut vmrk);
        let mut report_id = [0u8; 32];
        rng.fill_bytes(&mut report_id);
        Ok(Guest {
            asid,
            state: GuestState::Launching,
            policy,
            ld: [0; 48],
            vmpck,
            msg_count: [0; 4],
            vmrk,
            report_id,
            report_id_ma: [0xFF; 32],
            family_id: [0; 16],
            image_id: [0; 16],
            guest_svn: 0,
            id_key_digest: [0; 48],
            author_key_digest: [0; 48],
            author_key_en: false,
            vcek_disabled: false,
            host_data: [0; 32],
            launch_tcb: self.committed_tcb(),
            launch_mit_vector: self.config.mit_vector,
        })
    }

    /// SNP_LAUNCH_UPDATE of one 4 KiB page: extends the launch digest with PAGE_INFO and returns the page
    /// as the guest will see it (ZERO and SECRETS pages are zero-filled, SECRETS then populated).
    pub fn launch_update(
        &self,
        guest: &mut Guest,
        gpa: u64,
        page_type: PageType,
        page: &[u8; PAGE_SIZE],
        vmpl_perms: [u8; 3],
    ) -> Result<Box<[u8; PAGE_SIZE]>, FwStatus> {
        if guest.state != GuestState::Launching {
            return Err(FwStatus::INVALID_GUEST_STATE);
        }
        if gpa % PAGE_SIZE as u64 != 0 {
            return Err(FwStatus::INVALID_ADDRESS);
        }
        let mut out = Box::new(*page);
        match page_type {
            PageType::Zero | PageType::Secrets => out.fill(0),
            _ => {}
        }
        if page_type == PageType::Secrets {
            populate_secrets(&mut out, guest);
        }
        let measured_gpa = if page_type == PageType::Vmsa {
            VMSA_GPA
        } else {
            gpa
        };
        guest.ld = page_info_digest(&guest.ld, page_type, &out[..], measured_gpa, vmpl_perms);
        Ok(out)
    }

    /// SNP_LAUNCH_FINISH: checks the ID block (BAD_MEASUREMENT, POLICY_FAILURE, INVALID_PARAM,
    /// BAD_SIGNATURE, in AMD's order) and records HOST_DATA; the guest then runs.
    pub fn launch_finish(
        &self,
        guest: &mut Guest,
        id: Option<&IdBlockInput>,
        vcek_disabled: bool,
        host_data: [u8; 32],
    ) -> Result<(), FwStatus> {
        if guest.state != GuestState::Launching {
            return Err(FwStatus::INVALID_GUEST_STATE);
        }
        if let Some(id) = id {
            let b = &id.id_block;
            if b.ld != guest.ld {
                return Err(FwStatus::BAD_MEASUREMENT);
            }
            if b.policy.get() != guest.policy.0 {
                return Err(FwStatus::POLICY_FAILURE(
                    "ID block policy differs from the launch policy",
                ));
            }
            let a = &id.id_auth;
            if a.id_key_algo.get() != 1 || (id.auth_key_en && a.auth_key_algo.get() != 1) {
                return Err(FwStatus::INVALID_PARAM(
                    "ID key or author key algorithm is not 1",
                ));
            }
            let id_key = keys::public_key_from_amd(&a.id_key)
                .ok_or(FwStatus::BAD_SIGNATURE("ID key is not a P-384 point"))?;
            if !keys::verify_amd(
                &p384::ecdsa::VerifyingKey::from(&id_key),
                b.as_bytes(),
                &a.id_block_sig,
            ) {
                return Err(FwStatus::BAD_SIGNATURE("ID block signature"));
            }
            guest.id_key_digest = Sha384::digest(a.id_key.as_bytes()).into();
            if id.auth_key_en {
                let ak = keys::public_key_from_amd(&a.author_key)
                    .ok_or(FwStatus::BAD_SIGNATURE("author key is not a P-384 point"))?;
                if !keys::verify_amd(
                    &p384::ecdsa::VerifyingKey::from(&ak),
                    a.id_key.as_bytes(),
                    &a.id_key_sig,
                ) {
                    return Err(FwStatus::BAD_SIGNATURE(
                        "ID key signature by the author key",
                    ));
                }
                guest.author_key_digest = Sha384::digest(a.author_key.as_bytes()).into();
                guest.author_key_en = true;
            }
            guest.family_id = b.family_id;
            guest.image_id = b.image_id;
            guest.guest_svn = b.guest_svn.get();
        }
        guest.vcek_disabled = vcek_disabled;
        guest.host_data = host_data;
        guest.state = GuestState::Running;
        Ok(())
    }
}

/// Writes the secrets page (snp.md §5.4; Linux `snp_secrets_page`): VERSION 3, VMPCK0-3 at 0x20-0x9F.
fn populate_secrets(page: &mut [u8; PAGE_SIZE], guest: &Guest) {
    page[0..4].copy_from_slice(&3u32.to_le_bytes());
    for (i, k) in guest.vmpck.iter().enumerate() {
        page[0x20 + 32 * i..0x40 + 32 * i].copy_from_slice(k);
    }
}

/// The launch digest after one page: SHA-384(PAGE_INFO) (snp.md §3.2).
pub fn page_info_digest(
    ld: &[u8; 48],
    page_type: PageType,
    page: &[u8],
    gpa: u64,
    vmpl_perms: [u8; 3],
) -> [u8; 48] {
    use zerocopy::FromZeros;
    let mut pi = PageInfo::new_zeroed();
    pi.digest_cur = *ld;
    if page_type.measures_contents() {
        pi.contents = Sha384::digest(page).into();
    }
    pi.length.set(0x70);
    pi.page_type = page_type as u8;
    pi.vmpl1_perms = vmpl_perms[0];
    pi.vmpl2_perms = vmpl_perms[1];
    pi.vmpl3_perms = vmpl_perms[2];
    pi.gpa.set(gpa);
    Sha384::digest(pi.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sp::platform::PlatformConfig;
    use crate::Product;

    fn platform() -> Platform {
        Platform::new(PlatformConfig::new(Product::Genoa, 3)).unwrap()
    }

    #[test]
    fn launch_start_enforces_the_policy_rules() {
        let p = platform();
        assert!(p.launch_start(1, GuestPolicy(0x30000)).is_ok());
        assert_eq!(
            p.launch_start(1, GuestPolicy(0x10000)).unwrap_err().code(),
            0x07
        );
        assert_eq!(
            p.launch_start(1, GuestPolicy(0x30000 | (1 << 30)))
                .unwrap_err()
                .code(),
            0x07
        );
        assert_eq!(
            p.launch_start(1, GuestPolicy(0x20000)).unwrap_err().code(),
            0x07,
            "SMT on, policy forbids"
        );
        assert_eq!(
            p.launch_start(1, GuestPolicy(0x30000 | 0x0200))
                .unwrap_err()
                .code(),
            0x07,
            "ABI 2.0 > 1.55"
        );
        let milan = Platform::new(PlatformConfig::new(Product::Milan, 3)).unwrap();
        assert_eq!(
            milan
                .launch_start(1, GuestPolicy(0x30000 | GuestPolicy::MEM_AES_256_XTS))
                .unwrap_err()
                .code(),
            0x07
        );
        assert_eq!(
            p.launch_start(0, GuestPolicy(0x30000)).unwrap_err().code(),
            0x16
        );
    }

    #[test]
    fn page_info_matches_an_independent_encoding() {
        // PAGE_INFO for a NORMAL page of zeros at GPA 0x1000 from LD = 0, built byte by byte from Table 72.
        let page = [0u8; PAGE_SIZE];
        let mut pi = vec![0u8; 0x70];
        pi[0x30..0x60].copy_from_slice(&Sha384::digest(page));
        pi[0x60] = 0x70;
        pi[0x62] = 1;
        pi[0x68..0x70].copy_from_slice(&0x1000u64.to_le_bytes());
        let expect: [u8; 48] = Sha384::digest(&pi).into();
        assert_eq!(
            page_info_digest(&[0; 48], PageType::Normal, &page, 0x1000, [0; 3]),
            expect
        );
        // ZERO pages do not hash their contents.
        let mut pz = vec![0u8; 0x70];
        pz[0x60] = 0x70;
        pz[0x62] = 3;
        pz[0x68..0x70].copy_from_slice(&0x2000u64.to_le_bytes());
        let ez: [u8; 48] = Sha384::digest(&pz).into();
        assert_eq!(
            page_info_digest(&[0; 48], PageType::Zero, &[0xAA; PAGE_SIZE], 0x2000, [0; 3]),
            ez
        );
    }

    #[test]
    fn launch_finish_checks_the_id_block_in_order() {
        let p = platform();
        let idk = keys::key_from_hash(&[1; 48], b"id");
        let ak = keys::key_from_hash(&[2; 48], b"author");
        let mut g = p.launch_start(1, GuestPolicy::DEFAULT).unwrap();
        p.launch_update(&mut g, 0x1000, PageType::Normal, &[7; PAGE_SIZE], [0; 3])
            .unwrap();
        let good = IdBlockInput::sign(g.ld, g.policy, [1; 16], [2; 16], 5, &idk, Some(&ak));
        let mut bad_ld = good.clone();
        bad_ld.id_block.ld[0] ^= 1;
        assert_eq!(
            p.launch_finish(&mut g.clone(), Some(&bad_ld), false, [0; 32])
                .unwrap_err(),
            FwStatus::BAD_MEASUREMENT
        );
        let bad_pol =
            IdBlockInput::sign(g.ld, GuestPolicy(0xB0000), [1; 16], [2; 16], 5, &idk, None);
        assert_eq!(
            p.launch_finish(&mut g.clone(), Some(&bad_pol), false, [0; 32])
                .unwrap_err()
                .code(),
            0x07
        );
        let mut bad_sig = good.clone();
        bad_sig.id_auth.id_block_sig.r[0] ^= 1;
        assert_eq!(
            p.launch_finish(&mut g.clone(), Some(&bad_sig), false, [0; 32])
                .unwrap_err()
                .code(),
            0x0A
        );
        let mut bad_algo = good.clone();
        bad_algo.id_auth.id_key_algo.set(2);
        assert_eq!(
            p.launch_finish(&mut g.clone(), Some(&bad_algo), false, [0; 32])
                .unwrap_err()
                .code(),
            0x16
        );
        p.launch_finish(&mut g, Some(&good), false, [9; 32])
            .unwrap();
        assert_eq!(
            g.id_key_digest,
            <[u8; 48]>::from(Sha384::digest(
                keys::amd_public_key(&idk.public_key()).as_bytes()
            ))
        );
        assert!(g.author_key_en);
        assert_eq!(
            (g.guest_svn, g.family_id, g.host_data),
            (5, [1; 16], [9; 32])
        );
        assert_eq!(
            p.launch_update(&mut g, 0x2000, PageType::Normal, &[0; PAGE_SIZE], [0; 3])
                .unwrap_err(),
            FwStatus::INVALID_GUEST_STATE
        );
    }
}
