//! AMD's real ASK/ASVK and ARK certificates, bundled for verifying evidence from real machines (copied
//! from go-sev-guest `verify/trust/`; origins in `vectors/snp/captures/README.md`).

use crate::pki::Endorsement;
use crate::product::Product;

/// The KDS `cert_chain` PEM (ASK or ASVK, then ARK) of AMD's real PKI for `product`.
pub fn amd_cert_chain_pem(product: Product, e: Endorsement) -> &'static str {
    match (product, e) {
        (Product::Milan, Endorsement::Vcek) => {
            include_str!("../../vectors/snp/captures/roots/milan_ask_ark.pem")
        }
        (Product::Milan, Endorsement::Vlek) => {
            include_str!("../../vectors/snp/captures/roots/milan_asvk_ark.pem")
        }
        (Product::Genoa, Endorsement::Vcek) => {
            include_str!("../../vectors/snp/captures/roots/genoa_ask_ark.pem")
        }
        (Product::Genoa, Endorsement::Vlek) => {
            include_str!("../../vectors/snp/captures/roots/genoa_asvk_ark.pem")
        }
        (Product::Turin, Endorsement::Vcek) => {
            include_str!("../../vectors/snp/captures/roots/turin_ask_ark.pem")
        }
        (Product::Turin, Endorsement::Vlek) => {
            include_str!("../../vectors/snp/captures/roots/turin_asvk_ark.pem")
        }
    }
}
