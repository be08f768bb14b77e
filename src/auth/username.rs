//! User name normalisation, so that look-alike names cannot coexist:
//! Unicode NFKC, case-folded, trimmed, and a conservative character set that
//! leaves out control, format (zero-width) and whitespace characters.

use unicode_normalization::UnicodeNormalization;

pub const MAX_USERNAME_CHARS: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsernameError {
    #[error("the user name is empty")]
    Empty,
    #[error("the user name is longer than {MAX_USERNAME_CHARS} characters")]
    TooLong,
    #[error("the user name contains {0:?}; use letters, digits and . _ - @ + only")]
    BadCharacter(char),
}

/// The canonical form of a user name, or why it is not acceptable.
pub fn normalize(input: &str) -> Result<String, UsernameError> {
    // NFKC folds compatibility forms (full-width letters, ligatures); the
    // lower-casing then NFKC again gives a stable case-folded form.
    let folded: String = input.trim().nfkc().collect::<String>().to_lowercase().nfkc().collect();
    if folded.is_empty() {
        return Err(UsernameError::Empty);
    }
    if folded.chars().count() > MAX_USERNAME_CHARS {
        return Err(UsernameError::TooLong);
    }
    if let Some(bad) = folded.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'))) {
        return Err(UsernameError::BadCharacter(bad));
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_collapse_to_one_name() {
        assert_eq!(normalize("  Alice ").unwrap(), "alice");
        assert_eq!(normalize("ＡＬＩＣＥ").unwrap(), "alice");
        assert_eq!(normalize("ﬁona").unwrap(), "fiona");
    }

    #[test]
    fn control_and_zero_width_characters_are_refused() {
        assert_eq!(normalize("al\u{200B}ice"), Err(UsernameError::BadCharacter('\u{200B}')));
        assert_eq!(normalize("al\u{0007}ice"), Err(UsernameError::BadCharacter('\u{0007}')));
        assert_eq!(normalize("al ice"), Err(UsernameError::BadCharacter(' ')));
        assert_eq!(normalize("ali\u{FEFF}ce"), Err(UsernameError::BadCharacter('\u{FEFF}')));
        assert_eq!(normalize("   "), Err(UsernameError::Empty));
        assert_eq!(normalize(&"a".repeat(65)), Err(UsernameError::TooLong));
    }
}
