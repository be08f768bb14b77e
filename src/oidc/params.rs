//! Request parameters as RFC 6749 §3.1/§3.2 sees them: form or query
//! encoded, each name at most once. Duplicates are recorded rather than
//! silently resolved, so each endpoint answers them the way its spec says.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Longest single parameter value we look at; anything longer is refused.
pub const MAX_VALUE_BYTES: usize = 8 * 1024;

/// Longest parameter name; no protocol name comes close. Bounding it also
/// bounds the error messages that quote a name.
pub const MAX_NAME_BYTES: usize = 128;

#[derive(Clone, Default)]
pub struct Params {
    values: HashMap<String, String>,
    duplicates: Vec<String>,
    /// Set when a value was not valid UTF-8, held a NUL, or was too long.
    malformed: Option<String>,
}

impl std::fmt::Debug for Params {
    // Values may be secrets (passwords, codes, client secrets): names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("Params").field("names", &names).field("duplicates", &self.duplicates).finish()
    }
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (a body or a query).
    pub fn parse(input: &[u8]) -> Self {
        let mut params = Params::default();
        for (name, value) in form_urlencoded::parse(input) {
            if name.len() > MAX_NAME_BYTES {
                params.malformed.get_or_insert_with(|| "a parameter name is too long".to_string());
                continue;
            }
            // The decoder replaces invalid UTF-8 with U+FFFD; a NUL is never
            // legitimate. Either makes the whole request malformed.
            if name.contains(['\u{FFFD}', '\0']) || value.contains(['\u{FFFD}', '\0']) {
                params.malformed.get_or_insert_with(|| format!("parameter {name:?} is not valid UTF-8 text"));
                continue;
            }
            if value.len() > MAX_VALUE_BYTES {
                params.malformed.get_or_insert_with(|| format!("parameter {name} is too long"));
                continue;
            }
            // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
            if value.is_empty() {
                continue;
            }
            match params.values.entry(name.into_owned()) {
                Entry::Occupied(existing) => {
                    if !params.duplicates.contains(existing.key()) {
                        params.duplicates.push(existing.key().clone());
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(value.into_owned());
                }
            }
        }
        params
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.iter().any(|duplicate| duplicate == name)
    }

    /// The first duplicated parameter, if any.
    pub fn first_duplicate(&self) -> Option<&str> {
        self.duplicates.first().map(String::as_str)
    }

    pub fn malformed(&self) -> Option<&str> {
        self.malformed.as_deref()
    }

    /// Adds a value unless present (used to merge query and body).
    pub fn insert(&mut self, name: &str, value: &str) {
        self.values.entry(name.to_string()).or_insert_with(|| value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_empty_values() {
        let params = Params::parse(b"a=1&b=&a=2&c=x%20y");
        assert_eq!(params.get("a"), Some("1"));
        assert!(params.is_duplicated("a"));
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some("x y"));
    }

    #[test]
    fn invalid_utf8_and_nul_are_malformed() {
        assert!(Params::parse(b"a=%FF").malformed().is_some());
        assert!(Params::parse(b"a=x%00y").malformed().is_some());
        assert!(Params::parse(b"a=ok").malformed().is_none());
    }

    #[test]
    fn long_names_are_malformed_and_not_quoted() {
        let long = format!("{}=1", "n".repeat(MAX_NAME_BYTES + 1));
        let params = Params::parse(long.as_bytes());
        assert_eq!(params.malformed(), Some("a parameter name is too long"));
        let ok = format!("{}=1", "n".repeat(MAX_NAME_BYTES));
        assert!(Params::parse(ok.as_bytes()).malformed().is_none());
    }
}
