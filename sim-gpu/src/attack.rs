//! Attack scenarios on the CPU↔GPU channel (`cvmsim gpu attack list | NAME`): the host, which owns the
//! staging buffers, tampers with, replays, reorders, truncates or reads transfers. On hardware every one
//! is blocked (the data is encrypted and each page authenticated; UVM makes a tag failure fatal).

use sim_core::scenario::{AttackReport, Outcome, TraceEvent};

use crate::channel::{Channel, ChannelError, StagingBuffer, PAGE};

/// Rule: every staged page carries an AES-256-GCM tag under the channel key; a wrong tag fails.
pub const RULE_TAG: &str = "GPU-CHANNEL-AUTH-TAG";
/// Rule: the receiver's IV counter fixes each page's place in the stream (replay/reorder fail the tag).
pub const RULE_SEQUENCE: &str = "GPU-CHANNEL-IV-SEQUENCE";
/// Rule: the copy request fixes the page count; a short staging buffer fails.
pub const RULE_LENGTH: &str = "GPU-CHANNEL-LENGTH";
/// Rule: the host sees only ciphertext.
pub const RULE_CONFIDENTIAL: &str = "GPU-CHANNEL-CONFIDENTIALITY";
/// Rule: after a failure the channel is fatal and refuses every operation.
pub const RULE_FATAL: &str = "GPU-CHANNEL-FATAL";

/// The scenarios: name and description.
pub const SCENARIOS: [(&str, &str); 8] = [
    (
        "h2d-tamper-ciphertext",
        "host flips one ciphertext bit of a CPU→GPU page in the staging buffer",
    ),
    (
        "h2d-tamper-tag",
        "host overwrites the 16-byte tag of a CPU→GPU page",
    ),
    (
        "h2d-replay",
        "host replays a page of an earlier CPU→GPU transfer in place of a new one",
    ),
    (
        "h2d-reorder",
        "host swaps two pages (and their tags) of a CPU→GPU transfer",
    ),
    (
        "h2d-truncate",
        "host drops the last page of a CPU→GPU transfer",
    ),
    (
        "d2h-tamper",
        "host flips a ciphertext bit of a GPU→CPU page before the CPU decrypts it",
    ),
    (
        "host-read",
        "host reads the staging buffer looking for the plaintext",
    ),
    (
        "after-fatal",
        "after a detected tamper, a clean transfer is attempted on the same channel",
    ),
];

fn ev(actor: &str, op: impl Into<String>, result: impl Into<String>) -> TraceEvent {
    TraceEvent {
        actor: actor.into(),
        op: op.into(),
        result: result.into(),
    }
}

fn secret(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ 0x5a).collect()
}

fn result_str<T>(r: &Result<T, ChannelError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

/// Runs a scenario by name (`None` if there is no such scenario). `seed` picks the session.
pub fn run(name: &str, seed: u64) -> Option<AttackReport> {
    let mut steps = Vec::new();
    let mut ch = Channel::new(seed, 0);
    let data = secret(3 * PAGE);
    let mut blocked_by: Option<&str> = None;
    let h2d = |ch: &mut Channel, steps: &mut Vec<TraceEvent>, d: &[u8]| -> StagingBuffer {
        let r = ch.cpu_encrypt(d);
        steps.push(ev(
            "cpu",
            format!("encrypt {} bytes into staging (Lce00_h2d_user)", d.len()),
            result_str(&r),
        ));
        r.map(|x| x.0).unwrap_or_default()
    };
    let gpu_read = |ch: &mut Channel, steps: &mut Vec<TraceEvent>, sb: &StagingBuffer, n: usize| {
        let r = ch.gpu_decrypt(sb, n);
        steps.push(ev(
            "gpu-ce",
            format!("decrypt-copy {n} pages into protected vidmem"),
            result_str(&r),
        ));
        r
    };
    match name {
        "h2d-tamper-ciphertext" | "h2d-tamper-tag" => {
            let mut sb = h2d(&mut ch, &mut steps, &data);
            if name == "h2d-tamper-ciphertext" {
                if let Some(b) = sb.pages.get_mut(1).and_then(|p| p.get_mut(17)) {
                    *b ^= 0x01;
                }
                steps.push(ev("host", "flip bit 0 of byte 17 of staged page 1", "ok"));
            } else {
                if let Some(t) = sb.tags.get_mut(1) {
                    *t = [0u8; 16];
                }
                steps.push(ev(
                    "host",
                    "overwrite the tag of staged page 1 with zeros",
                    "ok",
                ));
            }
            let r = gpu_read(&mut ch, &mut steps, &sb, 3);
            if matches!(r, Err(ChannelError::TagMismatch { .. })) {
                blocked_by = Some(RULE_TAG);
            }
        }
        "h2d-replay" => {
            let first = h2d(&mut ch, &mut steps, &data[..PAGE]);
            let _ = gpu_read(&mut ch, &mut steps, &first, 1);
            let mut second = h2d(&mut ch, &mut steps, &secret(PAGE + 1)[1..]);
            second.pages[0] = first.pages[0].clone();
            second.tags[0] = first.tags[0];
            steps.push(ev(
                "host",
                "replace staged page 0 (and tag) with page 0 of the earlier transfer",
                "ok",
            ));
            let r = gpu_read(&mut ch, &mut steps, &second, 1);
            if matches!(r, Err(ChannelError::TagMismatch { .. })) {
                blocked_by = Some(RULE_SEQUENCE);
            }
        }
        "h2d-reorder" => {
            let mut sb = h2d(&mut ch, &mut steps, &data);
            sb.pages.swap(0, 1);
            sb.tags.swap(0, 1);
            sb.ivs.swap(0, 1);
            steps.push(ev(
                "host",
                "swap staged pages 0 and 1 with their tags and IVs",
                "ok",
            ));
            let r = gpu_read(&mut ch, &mut steps, &sb, 3);
            if matches!(r, Err(ChannelError::TagMismatch { .. })) {
                blocked_by = Some(RULE_SEQUENCE);
            }
        }
        "h2d-truncate" => {
            let mut sb = h2d(&mut ch, &mut steps, &data);
            sb.pages.pop();
            sb.tags.pop();
            sb.ivs.pop();
            steps.push(ev("host", "drop staged page 2 and its tag", "ok"));
            let r = gpu_read(&mut ch, &mut steps, &sb, 3);
            if matches!(r, Err(ChannelError::Truncated { .. })) {
                blocked_by = Some(RULE_LENGTH);
            }
        }
        "d2h-tamper" => {
            let r = ch.gpu_encrypt(&data);
            steps.push(ev(
                "gpu-ce",
                "encrypt-copy 3 pages to staging (Lce00_d2h_user)",
                result_str(&r),
            ));
            let mut sb = r.map(|x| x.0).unwrap_or_default();
            if let Some(b) = sb.pages.get_mut(2).and_then(|p| p.get_mut(4000)) {
                *b ^= 0x80;
            }
            steps.push(ev("host", "flip bit 7 of byte 4000 of staged page 2", "ok"));
            let r = ch.cpu_decrypt(&sb, 3);
            steps.push(ev("cpu", "decrypt 3 staged pages", result_str(&r)));
            if matches!(r, Err(ChannelError::TagMismatch { .. })) && ch.is_fatal() {
                steps.push(ev("cpu", "uvm_global_set_fatal_error", "channel fatal"));
                blocked_by = Some(RULE_TAG);
            }
        }
        "host-read" => {
            let sb = h2d(&mut ch, &mut steps, &data);
            let staged: Vec<u8> = sb.pages.concat();
            let found = staged
                .windows(32)
                .any(|w| data.windows(32).take(64).any(|d| d == w));
            let same = staged.iter().zip(&data).filter(|(a, b)| a == b).count();
            steps.push(ev(
                "host",
                "read all staged pages and search for 32-byte runs of the plaintext",
                if found {
                    "plaintext found".to_string()
                } else {
                    format!("not found ({same} of {} bytes equal by chance)", data.len())
                },
            ));
            if !found {
                blocked_by = Some(RULE_CONFIDENTIAL);
            }
        }
        "after-fatal" => {
            let mut sb = h2d(&mut ch, &mut steps, &data[..PAGE]);
            if let Some(b) = sb.pages.get_mut(0).and_then(|p| p.get_mut(0)) {
                *b ^= 1;
            }
            steps.push(ev("host", "flip bit 0 of byte 0 of staged page 0", "ok"));
            let _ = gpu_read(&mut ch, &mut steps, &sb, 1);
            let r = ch.cpu_encrypt(&data[..PAGE]);
            steps.push(ev(
                "cpu",
                "encrypt a clean page on the same channel",
                result_str(&r),
            ));
            if matches!(r, Err(ChannelError::Fatal)) {
                blocked_by = Some(RULE_FATAL);
            }
        }
        _ => return None,
    }
    if blocked_by.is_some() && name != "after-fatal" && name != "host-read" {
        let r = ch.cpu_encrypt(&data[..PAGE]);
        steps.push(ev("cpu", "next transfer on the channel", result_str(&r)));
    }
    Some(AttackReport {
        scenario: name.to_string(),
        expected: Outcome::Blocked,
        outcome: if blocked_by.is_some() {
            Outcome::Blocked
        } else {
            Outcome::Succeeded
        },
        rule: blocked_by.map(str::to_string),
        steps,
    })
}
