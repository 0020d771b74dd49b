//! proptest round trips for every layout type and the quote codec, and "bad input never panics".

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sim_tdx::layout::*;
use sim_tdx::quote::{QeCertData, Quote, TdBody};
use zerocopy::{FromBytes, IntoBytes};

fn round_trip<
    T: FromBytes
        + IntoBytes
        + zerocopy::Immutable
        + zerocopy::KnownLayout
        + PartialEq
        + std::fmt::Debug,
>(
    bytes: &[u8],
) {
    let t = T::read_from_bytes(bytes).unwrap();
    assert_eq!(t.as_bytes(), bytes);
    assert_eq!(T::read_from_bytes(t.as_bytes()).unwrap(), t);
    assert!(T::read_from_bytes(&bytes[1..]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn layouts_round_trip(b in proptest::collection::vec(any::<u8>(), 1024)) {
        round_trip::<TdReport>(&b);
        round_trip::<ReportMacStruct>(&b[..256]);
        round_trip::<TeeTcbInfo>(&b[..256]);
        round_trip::<TdInfo>(&b[..512]);
        round_trip::<QuoteHeader>(&b[..48]);
        round_trip::<TdReportBody10>(&b[..584]);
        round_trip::<TdReportBody15>(&b[..648]);
        round_trip::<TdReportBody15Ex>(&b[..885]);
        round_trip::<EnclaveReport>(&b[..384]);
        // TdReport::parse takes exactly 1024 bytes.
        prop_assert!(TdReport::parse(&b).is_ok());
        prop_assert!(TdReport::parse(&b[..1023]).is_err());
    }

    #[test]
    fn quotes_round_trip(
        body in proptest::collection::vec(any::<u8>(), 885),
        body_type in 2u16..=4,
        v5 in any::<bool>(),
        sig in proptest::collection::vec(any::<u8>(), 128),
        qe in proptest::collection::vec(any::<u8>(), 448),
        auth in proptest::collection::vec(any::<u8>(), 0..80),
        chain in proptest::collection::vec(any::<u8>(), 0..600),
        trailing in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut header = QuoteHeader::read_from_bytes(&[0u8; 48][..]).unwrap();
        header.version = (if v5 { 5u16 } else { 4 }).into();
        header.att_key_type = 2u16.into();
        header.tee_type = 0x81u32.into();
        let body = if !v5 || body_type == 2 {
            TdBody::Td10(TdReportBody10::read_from_bytes(&body[..584]).unwrap())
        } else if body_type == 3 {
            TdBody::Td15(TdReportBody15::read_from_bytes(&body[..648]).unwrap())
        } else {
            TdBody::Td15Ex(Box::new(TdReportBody15Ex::read_from_bytes(&body[..885]).unwrap()))
        };
        let q = Quote {
            header,
            body,
            signature: sig[..64].try_into().unwrap(),
            attestation_key: sig[64..].try_into().unwrap(),
            cert: QeCertData {
                qe_report: EnclaveReport::read_from_bytes(&qe[..384]).unwrap(),
                qe_report_signature: qe[384..].try_into().unwrap(),
                qe_auth_data: auth,
                inner_type: 5,
                pck_chain: chain,
            },
            trailing,
        };
        let bytes = q.encode();
        let back = Quote::parse(&bytes).unwrap();
        prop_assert_eq!(&back, &q);
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn mutated_quotes_never_panic(
        idx in proptest::collection::vec(any::<prop::sample::Index>(), 1..8),
        vals in proptest::collection::vec(any::<u8>(), 8),
        cut in any::<prop::sample::Index>(),
    ) {
        let base = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/tdx/captures/quote_v5_sample.dat")).unwrap();
        let mut m = base.clone();
        for (i, v) in idx.iter().zip(vals) {
            let k = i.index(m.len());
            m[k] = v;
        }
        let m = &m[..cut.index(m.len() + 1)];
        if let Ok(q) = Quote::parse(m) {
            prop_assert_eq!(q.encode(), m.to_vec());
            let _ = sim_tdx::verify::verify_quote(
                m,
                None,
                sim_tdx::INTEL_SGX_ROOT_CA_DER,
                1_780_272_000,
                &Default::default(),
            );
        }
        let _ = sim_tdx::show::parse_any(m);
        let _ = sim_tdx::measure::tdvf_sections(m);
        let _ = sim_tdx::measure::ccel_replay(m);
    }
}
