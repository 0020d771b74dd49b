//! Property tests: every layout type round-trips (bytes → struct → bytes, and value → bytes → value),
//! and the parser never panics on arbitrary input.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sim_snp::layout::cert_table::{self, CertTableEntry};
use sim_snp::layout::guest_msg::{GuestMsgHeader, KeyReq, ReportReq};
use sim_snp::layout::id_block::{EcdsaPublicKey, IdAuthInfo, IdBlock};
use sim_snp::layout::page_info::PageInfo;
use sim_snp::layout::policy::{KeyInfo, SigningKey};
use sim_snp::layout::report::AttestationReportRaw;
use sim_snp::layout::TcbVersion;
use sim_snp::product::TcbLayout;
use sim_snp::report::AttestationReport;
use zerocopy::{FromBytes, IntoBytes};

fn round_trip<T: FromBytes + IntoBytes + zerocopy::Immutable + zerocopy::KnownLayout>(
    bytes: &[u8],
) {
    let t = T::read_from_bytes(bytes).unwrap();
    assert_eq!(t.as_bytes(), bytes);
}

proptest! {
    #[test]
    fn fixed_layouts_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0x1000)) {
        round_trip::<AttestationReportRaw>(&bytes[..0x4A0]);
        round_trip::<GuestMsgHeader>(&bytes[..0x60]);
        round_trip::<ReportReq>(&bytes[..0x60]);
        round_trip::<KeyReq>(&bytes[..0x40]);
        round_trip::<IdBlock>(&bytes[..0x60]);
        round_trip::<EcdsaPublicKey>(&bytes[..0x404]);
        round_trip::<IdAuthInfo>(&bytes[..0x1000]);
        round_trip::<PageInfo>(&bytes[..0x70]);
    }

    #[test]
    fn tcb_versions_round_trip(fmc in any::<u8>(), bl in any::<u8>(), tee in any::<u8>(), snp in any::<u8>(), uc in any::<u8>()) {
        let legacy = TcbVersion::legacy(bl, tee, snp, uc);
        prop_assert_eq!(TcbVersion::from_bytes(legacy.to_bytes(TcbLayout::Legacy), TcbLayout::Legacy), legacy);
        let turin = TcbVersion::turin(fmc, bl, tee, snp, uc);
        prop_assert_eq!(TcbVersion::from_bytes(turin.to_bytes(TcbLayout::Turin), TcbLayout::Turin), turin);
        prop_assert!(TcbVersion::check_reserved(turin.to_bytes(TcbLayout::Turin), TcbLayout::Turin).is_ok());
        prop_assert_eq!(TcbVersion::parse_arg(&turin.to_string()).unwrap(), turin);
    }

    #[test]
    fn key_info_round_trips(author in any::<bool>(), mask in any::<bool>(), sk in prop_oneof![Just(SigningKey::Vcek), Just(SigningKey::Vlek), Just(SigningKey::None)]) {
        let k = KeyInfo::new(author, mask, sk);
        prop_assert_eq!((k.author_key_en(), k.mask_chip_key(), k.signing_key()), (author, mask, sk));
    }

    #[test]
    fn cert_tables_round_trip(blobs in proptest::collection::vec((any::<[u8; 16]>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..5)) {
        let entries: Vec<CertTableEntry> = blobs.into_iter().filter(|(g, _)| *g != [0; 16]).map(|(guid, data)| CertTableEntry { guid, data }).collect();
        let enc = cert_table::encode(&entries);
        prop_assert_eq!(cert_table::decode(&enc).unwrap(), entries);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..0x600)) {
        let _ = AttestationReport::parse(&bytes);
        let _ = cert_table::decode(&bytes);
        let _ = sim_snp::measure::Ovmf::parse(bytes.clone());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn valid_reports_reencode_to_their_bytes(seed in 0u64..4) {
        let b = sim_snp::evidence::issue(&sim_snp::evidence::ReportSpec::new(sim_snp::Product::Genoa, seed)).unwrap();
        let r = AttestationReport::parse(&b.report).unwrap();
        prop_assert_eq!(r.raw.as_bytes(), &b.report[..]);
    }
}
