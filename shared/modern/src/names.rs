//! Names as Anki's upgrade normalises them: NFC, deck name components, and unique names under
//! the `unicase` collation (suffixing duplicates as Anki does).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use unicase::UniCase;
use unicode_normalization::{UnicodeNormalization, is_nfc};

pub(crate) fn nfc(s: &str) -> Cow<'_, str> {
    if is_nfc(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// One `::`-separated component: NFC, ASCII control characters removed, surrounding whitespace
/// and colons trimmed, empty → "blank".
fn deck_name_component(comp: &str) -> String {
    let out = nfc(comp);
    let out: String = out.chars().filter(|c| !c.is_ascii_control()).collect();
    let trimmed = out.trim_matches(|c: char| c.is_whitespace() || c == ':');
    if trimmed.is_empty() {
        "blank".to_string()
    } else {
        trimmed.to_string()
    }
}

/// A schema-11 (human, `::`-separated) deck name as schema 18 stores it (`\x1f`-separated).
pub(crate) fn native_deck_name(human: &str) -> String {
    human
        .split("::")
        .map(deck_name_component)
        .collect::<Vec<_>>()
        .join("\x1f")
}

/// Names made unique case-insensitively (Unicode case folding, like the `unicase` collation),
/// in the order they are offered: a name already taken gets `suffix` appended until it is free.
///
/// Anki's loop appends one suffix at a time and retries; remembering how far each base name got
/// gives the same names without the quadratic retries a file of identical names would cost.
#[derive(Default)]
pub(crate) struct UniqueNames {
    taken: HashSet<UniCase<String>>,
    next_suffixes: HashMap<UniCase<String>, usize>,
}

impl UniqueNames {
    pub fn claim(&mut self, name: String, suffix: char) -> String {
        let key = UniCase::new(name.clone());
        if self.taken.insert(key.clone()) {
            return name;
        }
        let start = self.next_suffixes.get(&key).copied().unwrap_or(1);
        let mut candidate = name;
        candidate.extend(std::iter::repeat_n(suffix, start));
        let mut count = start;
        loop {
            if self.taken.insert(UniCase::new(candidate.clone())) {
                self.next_suffixes.insert(key, count + 1);
                return candidate;
            }
            candidate.push(suffix);
            count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deck_names_normalise_like_anki() {
        assert_eq!(native_deck_name("foo"), "foo");
        assert_eq!(native_deck_name("foo::bar"), "foo\x1fbar");
        assert_eq!(native_deck_name("foo::::baz"), "foo\x1fblank\x1fbaz");
        assert_eq!(native_deck_name("fo\x1fo::ba\nr"), "foo\x1fbar");
        assert_eq!(native_deck_name("foo:::bar"), "foo\x1fbar");
        assert_eq!(native_deck_name("foo:::bar:baz: "), "foo\x1fbar:baz");
        assert_eq!(native_deck_name("e\u{301}"), "\u{e9}");
    }

    #[test]
    fn duplicates_get_suffixes_case_insensitively() {
        let mut n = UniqueNames::default();
        assert_eq!(n.claim("Deck".into(), '_'), "Deck");
        assert_eq!(n.claim("deck".into(), '_'), "deck_");
        assert_eq!(n.claim("DECK_".into(), '_'), "DECK__");
        assert_eq!(n.claim("Deck".into(), '_'), "Deck___");
        assert_eq!(n.claim("Straße".into(), '_'), "Straße");
        assert_eq!(n.claim("STRASSE".into(), '_'), "STRASSE_");
    }

    #[test]
    fn many_identical_names_stay_linear() {
        let mut n = UniqueNames::default();
        let names: Vec<String> = (0..2000).map(|_| n.claim("x".into(), '+')).collect();
        assert_eq!(names[1999].len(), 2000);
    }
}
