//! Property tests: encode(decode(b)) == b for reports, decode(encode(x)) == x for responses, and
//! no input makes the parser panic.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sim_gpu::layout::{
    GetMeasurementsRequest, MeasurementBlock, MeasurementsResponse, OpaqueData, OpaqueType, Report,
};
use zerocopy::IntoBytes;

fn opaque() -> impl Strategy<Value = OpaqueData> {
    proptest::sample::subsequence(OpaqueType::ALL.to_vec(), 0..8)
        .prop_flat_map(|kinds| {
            let n = kinds.len();
            (
                Just(kinds),
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), n),
            )
        })
        .prop_map(|(kinds, values)| {
            let mut o = OpaqueData::default();
            for (k, v) in kinds.into_iter().zip(values) {
                o.push(k, v);
            }
            o
        })
}

fn response() -> impl Strategy<Value = MeasurementsResponse> {
    (
        proptest::collection::vec(proptest::array::uniform32(any::<u8>()), 0..70),
        proptest::array::uniform32(any::<u8>()),
        opaque(),
        proptest::collection::vec(any::<u8>(), 96),
    )
        .prop_map(|(digests, nonce, opaque, signature)| {
            let blocks = digests
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let mut v = [0u8; 48];
                    v[..32].copy_from_slice(d);
                    MeasurementBlock::digest(u8::try_from(i + 1).unwrap(), v)
                })
                .collect();
            MeasurementsResponse {
                header: MeasurementsResponse::h100_header(),
                blocks,
                nonce,
                opaque,
                opaque_length: 0,
                signature,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn response_round_trips(nonce in proptest::array::uniform32(any::<u8>()), resp in response()) {
        let mut bytes = GetMeasurementsRequest::new(nonce).as_bytes().to_vec();
        bytes.extend(resp.encode());
        let r = Report::parse(&bytes).unwrap();
        prop_assert_eq!(r.request, GetMeasurementsRequest::new(nonce));
        prop_assert_eq!(&r.response.blocks, &resp.blocks);
        prop_assert_eq!(r.response.nonce, resp.nonce);
        prop_assert_eq!(&r.response.signature, &resp.signature);
        let kinds: Vec<_> = r.response.opaque.fields.iter().map(|f| (f.kind, f.value.clone())).collect();
        let want: Vec<_> = resp.opaque.fields.iter().map(|f| (f.kind, f.value.clone())).collect();
        prop_assert_eq!(kinds, want);
        // encode(decode(b)) == b
        let mut again = r.request.as_bytes().to_vec();
        again.extend(r.response.encode());
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn mutated_captures_never_panic(pos in 0usize..4200, byte in any::<u8>(), cut in 0usize..4200) {
        let t = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/gpu/captures/h100pcie-862_580.159.03_nvat-testdata.report.hex")).unwrap();
        let mut b = hex::decode(t.trim()).unwrap();
        if pos < b.len() { b[pos] = byte; }
        b.truncate(cut.max(1));
        let _ = Report::parse(&b);
    }
}

#[test]
fn the_real_capture_re_encodes_byte_exact() {
    for name in [
        "h100pcie-862_580.159.03_nvat-testdata",
        "h100pcie_535.86.09_nvat-sample",
    ] {
        let t = std::fs::read_to_string(format!(
            "{}/../vectors/gpu/captures/{name}.report.hex",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let b = hex::decode(t.trim()).unwrap();
        let r = Report::parse(&b).unwrap();
        let mut again = r.request.as_bytes().to_vec();
        again.extend(r.response.encode());
        assert_eq!(again, b, "{name}");
    }
}
