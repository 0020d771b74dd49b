//! Simulated quotes: every version × TCB status verifies in this project's verifier with the chosen
//! status, and in dcap-qvl (an independent verifier) with the same status; openssl accepts the PCK chain.

#![allow(clippy::unwrap_used)]

use sim_tdx::collateral::TcbStatus;
use sim_tdx::evidence::{generate, Bundle, QuoteOptions};
use sim_tdx::verify::{verify_quote, Policy};

const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn bundle(version: u16, status: TcbStatus) -> Bundle {
    generate(&QuoteOptions {
        version: Some(version),
        status,
        report_data: [0x5a; 64],
        ..QuoteOptions::default()
    })
    .unwrap()
}

fn dcap(b: &Bundle) -> Result<String, String> {
    let coll: dcap_qvl::QuoteCollateralV3 = serde_json::from_str(&b.collateral.to_json()).unwrap();
    dcap_qvl::verify::QuoteVerifier::new(b.root_der.clone())
        .verify(&b.quote.encode(), &coll, NOW)
        .map(|r| r.status)
        .map_err(|e| format!("{e:#}"))
}

fn cases() -> Vec<(u16, TcbStatus)> {
    let mut out = Vec::new();
    for v in [4u16, 5] {
        for s in TcbStatus::ALL {
            let relaunch = matches!(
                s,
                TcbStatus::TDRelaunchAdvised | TcbStatus::TDRelaunchAdvisedConfigurationNeeded
            );
            if v == 4 && relaunch {
                continue;
            }
            out.push((v, s));
        }
    }
    out
}

#[test]
fn every_version_and_status_verifies_here_and_in_dcap_qvl() {
    for (v, s) in cases() {
        let b = bundle(v, s);
        assert_eq!(b.quote.version(), v);
        let verdict = verify_quote(
            &b.quote.encode(),
            Some(&b.collateral),
            &b.root_der,
            NOW as i64,
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(
            verdict.claims["tcb_status"],
            s.as_str(),
            "v{v} {s}: {}",
            verdict.render_human()
        );
        let independent = dcap(&b);
        if s == TcbStatus::Revoked {
            assert!(!verdict.is_valid(), "v{v} Revoked must be invalid");
            assert!(verdict.failed("TDX-TCB-STATUS"));
            let e = independent.unwrap_err();
            assert!(e.contains("Revoked"), "dcap-qvl: {e}");
        } else {
            assert!(verdict.is_valid(), "v{v} {s}:\n{}", verdict.render_human());
            assert_eq!(
                independent.as_deref(),
                Ok(s.as_str()),
                "dcap-qvl on v{v} {s}"
            );
        }
    }
}

#[test]
fn version_4_cannot_carry_a_relaunch_status() {
    let e = generate(&QuoteOptions {
        version: Some(4),
        status: TcbStatus::TDRelaunchAdvised,
        ..QuoteOptions::default()
    });
    assert!(e.is_err());
}

#[test]
fn the_tdqe_rule_picks_v5_only_when_svn2_differs() {
    let auto = |s| {
        generate(&QuoteOptions {
            status: s,
            ..QuoteOptions::default()
        })
        .unwrap()
        .quote
        .version()
    };
    assert_eq!(auto(TcbStatus::UpToDate), 4);
    assert_eq!(auto(TcbStatus::TDRelaunchAdvised), 5);
}

#[test]
fn a_revoked_pck_fails_here_and_in_dcap_qvl() {
    let b = generate(&QuoteOptions {
        revoke_pck: true,
        ..QuoteOptions::default()
    })
    .unwrap();
    let v = verify_quote(
        &b.quote.encode(),
        Some(&b.collateral),
        &b.root_der,
        NOW as i64,
        &Policy::default(),
    )
    .unwrap();
    assert!(v.failed("TDX-CRL-PCK"), "{}", v.render_human());
    assert!(dcap(&b).is_err());
}

#[test]
fn expired_collateral_fails_here_and_in_dcap_qvl() {
    let b = generate(&QuoteOptions {
        validity: 30 * 86_400,
        ..QuoteOptions::default()
    })
    .unwrap();
    let v = verify_quote(
        &b.quote.encode(),
        Some(&b.collateral),
        &b.root_der,
        NOW as i64,
        &Policy::default(),
    )
    .unwrap();
    assert!(v.failed("TDX-TCB-INFO-VALIDITY"));
    assert!(v.failed("TDX-CRL-ROOT"));
    assert!(dcap(&b).is_err());
}

#[test]
fn a_debug_td_passes_authenticity_and_fails_the_debug_policy() {
    let b = generate(&QuoteOptions {
        attributes: 1 | (1 << 28),
        ..QuoteOptions::default()
    })
    .unwrap();
    let q = b.quote.encode();
    let v = verify_quote(
        &q,
        Some(&b.collateral),
        &b.root_der,
        NOW as i64,
        &Policy::default(),
    )
    .unwrap();
    assert!(v.is_valid());
    let p = Policy {
        deny_debug: true,
        ..Policy::default()
    };
    let v = verify_quote(&q, Some(&b.collateral), &b.root_der, NOW as i64, &p).unwrap();
    assert!(v.failed("TDX-POLICY-DEBUG"));
    // dcap-qvl's built-in policy rejects debug TDs unless allowed.
    assert!(dcap(&b).is_err());
}

#[test]
fn openssl_accepts_the_pck_chain() {
    let b = bundle(4, TcbStatus::UpToDate);
    let dir = std::env::temp_dir().join(format!("cvmsim-tdx-openssl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certs = sim_tdx::verify::pck_chain_der(&b.quote);
    assert_eq!(certs.len(), 3);
    let pem = |d: &[u8]| sim_core::x509::to_pem("CERTIFICATE", d);
    std::fs::write(dir.join("leaf.pem"), pem(&certs[0])).unwrap();
    std::fs::write(dir.join("ca.pem"), pem(&certs[1])).unwrap();
    std::fs::write(dir.join("root.pem"), pem(&b.root_der)).unwrap();
    std::fs::write(
        dir.join("tcb.pem"),
        b.collateral.tcb_info_issuer_chain.clone(),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl binary");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let at = "1767225600";
    let (ok, msg) = run(&[
        "verify",
        "-attime",
        at,
        "-CAfile",
        "root.pem",
        "-untrusted",
        "ca.pem",
        "leaf.pem",
    ]);
    assert!(ok, "{msg}");
    let (ok, msg) = run(&["verify", "-attime", at, "-CAfile", "root.pem", "tcb.pem"]);
    assert!(ok, "{msg}");
    // The wrong root must not verify.
    std::fs::write(dir.join("wrong.pem"), pem(&certs[1])).unwrap();
    let (ok, _) = run(&[
        "verify",
        "-attime",
        at,
        "-CAfile",
        "wrong.pem",
        "-partial_chain",
        "root.pem",
    ]);
    assert!(!ok);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn same_seed_same_bytes() {
    let a = bundle(5, TcbStatus::OutOfDate).files();
    let b = bundle(5, TcbStatus::OutOfDate).files();
    assert_eq!(a, b);
    let c = generate(&QuoteOptions {
        seed: 7,
        ..QuoteOptions::default()
    })
    .unwrap();
    assert_ne!(
        c.quote.attestation_key,
        bundle(4, TcbStatus::UpToDate).quote.attestation_key
    );
}
