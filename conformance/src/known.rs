//! `vectors/known-failures.toml`: trials expected to fail, each with its reason (BoGo's
//! `DisabledTests`, wasmtime's `should_fail`). A listed trial that fails passes the run; a listed trial
//! that passes fails it, so the list never goes stale.
//!
//! ```toml
//! [[failure]]
//! pattern = "gpu/replay/*/GPU-REPORT-LENGTH"   # `*` matches any run of characters
//! reason = "why this is expected to fail"
//! ```

use serde::Deserialize;

/// One entry of the list.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct KnownFailure {
    /// Trial-name pattern; `*` matches any run of characters.
    pub pattern: String,
    /// Why it fails.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    failure: Vec<KnownFailure>,
}

/// Parses the list.
pub fn parse(text: &str) -> Result<Vec<KnownFailure>, String> {
    toml::from_str::<File>(text)
        .map(|f| f.failure)
        .map_err(|e| e.to_string())
}

/// Whether `name` matches `pattern` (`*` = any run of characters, everything else literal).
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// The reason `name` is expected to fail, if it is listed.
pub fn expected_failure<'a>(list: &'a [KnownFailure], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|k| matches(&k.pattern, name))
        .map(|k| k.reason.as_str())
}

/// Applies the inversion: the result a trial reports given its own outcome and the list.
pub fn judge(list: &[KnownFailure], name: &str, outcome: Result<(), String>) -> Result<(), String> {
    match (expected_failure(list, name), outcome) {
        (None, o) => o,
        (Some(_), Err(_)) => Ok(()),
        (Some(reason), Ok(())) => Err(format!("listed as an expected failure ({reason}) but it passed: remove it from vectors/known-failures.toml")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_the_list_says() {
        assert!(matches(
            "gpu/replay/*/GPU-REPORT-LENGTH",
            "gpu/replay/h100/GPU-REPORT-LENGTH"
        ));
        assert!(!matches(
            "gpu/replay/*/GPU-REPORT-LENGTH",
            "gpu/replay/h100/GPU-NONCE-MATCH"
        ));
        assert!(matches("snp/*", "snp/a/b"));
        assert!(matches("*-bad", "x-bad"));
        assert!(matches("a*b*c", "a123b456c"));
        assert!(!matches("a*b*c", "a123c"));
        assert!(matches("exact", "exact") && !matches("exact", "exactly"));
    }

    #[test]
    fn an_expected_failure_that_passes_fails_the_run() {
        let list = parse("[[failure]]\npattern = \"x/*\"\nreason = \"known bug\"\n").unwrap();
        assert_eq!(judge(&list, "x/1", Err("boom".into())), Ok(()));
        assert!(judge(&list, "x/1", Ok(()))
            .unwrap_err()
            .contains("known bug"));
        assert_eq!(judge(&list, "y/1", Err("boom".into())), Err("boom".into()));
        assert_eq!(judge(&list, "y/1", Ok(())), Ok(()));
        assert!(parse("[[failure]]\npattern = 1").is_err());
    }
}
