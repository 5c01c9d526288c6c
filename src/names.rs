//! Names as users type them, parsed once into the form we store and match.
//! Every write path (addBook, import) goes through [`Name::parse`]; nothing else normalises.

use std::borrow::Cow;
use std::cmp::Ordering;

use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfc_quick};

/// A trimmed, white-space-collapsed, non-empty name, with its case-folded matching key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    display: String,
    key: String,
}

/// Why a raw string is not a [`Name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Nothing but white space.
    Empty,
    /// Longer than the field allows, counted in characters after normalisation.
    TooLong(usize),
    /// A control character that is not white space.
    ControlCharacter,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::Empty => f.write_str("must not be empty"),
            NameError::TooLong(max) => write!(f, "must be at most {max} characters"),
            NameError::ControlCharacter => f.write_str("must not contain control characters"),
        }
    }
}

/// Longest author first or last name and publisher name we store.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest book title we store.
pub const MAX_TITLE_CHARS: usize = 500;

impl Name {
    /// Trims, collapses inner white space (newlines and tabs included) to one space, and
    /// checks the result is non-empty, free of control characters and at most `max_chars`.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Name, NameError> {
        let display = normalise(raw);
        if display.is_empty() {
            return Err(NameError::Empty);
        }
        check_storable(&display, max_chars)?;
        let key = match_key(&display);
        Ok(Name { display, key })
    }

    /// A name read back from the database, normalised when it was stored.
    pub fn stored(display: String) -> Name {
        let key = match_key(&display);
        Name { display, key }
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form the unique indexes compare.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The case-insensitive matching form of already-normalised text: Unicode lower case.
/// Substring filters use it too, so "zola" finds "Émile Zola" the way uniqueness sees it.
pub fn match_key(normalised: &str) -> String {
    normalised.to_lowercase()
}

/// How the match keys of two normalised names compare, byte by byte as the key columns
/// sort in both databases (UTF-8 sorts as its code points do), without building the keys.
pub fn cmp_by_key(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        let a = a.bytes().map(|byte| byte.to_ascii_lowercase());
        a.cmp(b.bytes().map(|byte| byte.to_ascii_lowercase()))
    } else if a.contains('Σ') || b.contains('Σ') {
        // The one letter whose lower case depends on its place in a word.
        match_key(a).cmp(&match_key(b))
    } else {
        let a = a.chars().flat_map(char::to_lowercase);
        a.cmp(b.chars().flat_map(char::to_lowercase))
    }
}

/// A search needle normalised and matched the way names are, under the same rules but
/// one: empty is allowed (it matches everything). A needle longer than the field it
/// searches can match nothing, and long ones cost the database dearly (SQLite refuses
/// LIKE patterns over 50,000 bytes with an internal error), so `max_chars` is the longest
/// value of that field. Control characters are refused because a NUL ends the pattern
/// early in SQLite, so `"\0nomatch"` would match every row.
pub fn search_key(raw: &str, max_chars: usize) -> Result<String, NameError> {
    let normalised = normalise(raw);
    check_storable(&normalised, max_chars)?;
    Ok(match_key(&normalised))
}

/// Normalised text we would store: no control characters, at most `max_chars`.
fn check_storable(normalised: &str, max_chars: usize) -> Result<(), NameError> {
    if normalised.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if normalised.chars().count() > max_chars {
        return Err(NameError::TooLong(max_chars));
    }
    Ok(())
}

/// Unicode NFC, so "É" typed as one code point or as "E" plus an accent is the same
/// letter; then white space trimmed and inner runs collapsed to one space.
fn normalise(raw: &str) -> String {
    // Text nearly always arrives composed: the quick check spares composing it again.
    let composed = if is_nfc_quick(raw.chars()) == IsNormalized::Yes {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(raw.nfc().collect())
    };
    composed.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_trims_and_collapses_white_space() {
        let name = Name::parse("  Stephen \t\n King ", 200).unwrap();
        assert_eq!(name.as_str(), "Stephen King");
        assert_eq!(name.key(), "stephen king");
    }

    #[test]
    fn key_folds_non_ascii_letters() {
        assert_eq!(Name::parse("ÉMILE", 200).unwrap().key(), "émile");
    }

    #[test]
    fn composed_and_decomposed_accents_are_one_name() {
        let composed = Name::parse("\u{c9}mile", 200).unwrap();
        let decomposed = Name::parse("E\u{301}mile", 200).unwrap();
        assert_eq!(decomposed.as_str(), composed.as_str());
        assert_eq!(decomposed.key(), composed.key());
    }

    #[test]
    fn names_compare_as_their_keys_do() {
        let names = [
            "zola",
            "Zola",
            "ZOLA",
            "Émile",
            "emile",
            "Ölberg",
            "Ober",
            "ΟΔΟΣ",
            "οδοσ",
            "ΟΔΟΣ Α",
            "ὈΔΥΣΣΕΎΣ",
            "İstanbul",
            "i̇stanbul",
            "ß",
            "SS",
            "a b",
            "a",
            "A-b",
            "Ab",
            "日本",
            "",
        ];
        for a in names {
            for b in names {
                assert_eq!(
                    cmp_by_key(a, b),
                    match_key(a).cmp(&match_key(b)),
                    "{a:?} against {b:?}"
                );
            }
        }
    }

    #[test]
    fn parse_rejects_what_cannot_be_stored() {
        let cases = [
            ("", 10, NameError::Empty),
            (" \n\t ", 10, NameError::Empty),
            ("a\u{0}b", 10, NameError::ControlCharacter),
            ("abcd", 3, NameError::TooLong(3)),
        ];
        for (raw, max, expected) in cases {
            assert_eq!(Name::parse(raw, max).err(), Some(expected), "{raw:?}");
        }
    }

    #[test]
    fn a_search_key_follows_the_rules_of_names_except_that_it_may_be_empty() {
        assert_eq!(search_key("  ZOLA ", 10), Ok("zola".to_owned()));
        assert_eq!(search_key("", 10), Ok(String::new()));
        assert_eq!(
            search_key("\u{0}nomatch", 10),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(search_key("abcd", 3), Err(NameError::TooLong(3)));
    }
}
