//! Enforcement rules of the memory models and the set that is switched on (`--disable-rule`).

use std::collections::BTreeSet;

/// One enforcement rule: its ID, what it enforces and where the spec says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Rule ID, e.g. `SNP-RMP-REVERSE-MAP`.
    pub id: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Spec citation.
    pub spec: &'static str,
}

/// The set of rules that are switched off; every other rule is enforced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet {
    disabled: BTreeSet<&'static str>,
}

/// A rule ID that is not in the model's catalogue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule ID {0:?}")]
pub struct UnknownRule(pub String);

impl RuleSet {
    /// Every rule enforced.
    pub fn all() -> Self {
        Self::default()
    }

    /// Every rule of `catalogue` enforced except those named in `disabled`.
    pub fn with_disabled<S: AsRef<str>>(
        catalogue: &[Rule],
        disabled: &[S],
    ) -> Result<Self, UnknownRule> {
        let mut set = Self::default();
        for d in disabled {
            let rule = catalogue
                .iter()
                .find(|r| r.id.eq_ignore_ascii_case(d.as_ref()))
                .ok_or_else(|| UnknownRule(d.as_ref().to_string()))?;
            set.disabled.insert(rule.id);
        }
        Ok(set)
    }

    /// Whether rule `id` is enforced.
    pub fn on(&self, id: &str) -> bool {
        !self.disabled.contains(id)
    }

    /// The disabled rule IDs.
    pub fn disabled(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.disabled.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAT: &[Rule] = &[
        Rule {
            id: "X-ONE",
            description: "one",
            spec: "s",
        },
        Rule {
            id: "X-TWO",
            description: "two",
            spec: "s",
        },
    ];

    #[test]
    fn disabling_is_by_catalogue_id() {
        let s = RuleSet::with_disabled(CAT, &["x-two"]).unwrap();
        assert!(s.on("X-ONE"));
        assert!(!s.on("X-TWO"));
        assert_eq!(
            RuleSet::with_disabled(CAT, &["X-THREE"]).unwrap_err(),
            UnknownRule("X-THREE".into())
        );
    }
}
