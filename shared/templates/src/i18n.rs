//! The English strings Anki 26.9.3 puts into rendered cards (`ftl/core/*.ftl`), formatted the way
//! its Fluent bundle does: every placeable of a multi-element message is wrapped in Unicode
//! isolation marks (U+2068 … U+2069).

/// Wrap a placeable as Fluent does (`use_isolating`).
fn iso(s: &str) -> String {
    format!("\u{2068}{s}\u{2069}")
}

pub(crate) const MORE_INFO: &str = "More information";
pub(crate) const FRONT_SIDE_PROBLEM: &str = "Front template has a problem:";
pub(crate) const BACK_SIDE_PROBLEM: &str = "Back template has a problem:";
pub(crate) const BROWSER_FRONT_SIDE_PROBLEM: &str =
    "Browser-specific front template has a problem:";
pub(crate) const BROWSER_BACK_SIDE_PROBLEM: &str = "Browser-specific back template has a problem:";
pub(crate) const EMPTY_FRONT: &str = "The front of this card is blank.";
/// `card-templates-blank`: what `[...]` is read as in text-to-speech.
pub(crate) const BLANK: &str = "blank";

pub(crate) const TEMPLATE_ERROR_LINK: &str =
    "https://docs.ankiweb.net/templates/errors.html#template-syntax-error";
pub(crate) const TEMPLATE_BLANK_LINK: &str =
    "https://docs.ankiweb.net/templates/errors.html#front-of-card-is-blank";
pub(crate) const TEMPLATE_BLANK_CLOZE_LINK: &str =
    "https://docs.ankiweb.net/templates/errors.html#no-cloze-filter-on-cloze-note-type";

pub(crate) fn no_such_field(found: &str, field: &str) -> String {
    format!(
        "Found '{}', but there is no field called '{}'",
        iso(found),
        iso(field)
    )
}

pub(crate) fn conditional_not_closed(missing: &str) -> String {
    format!("Missing '{}'", iso(missing))
}

pub(crate) fn wrong_conditional_closed(found: &str, expected: &str) -> String {
    format!("Found '{}', but expected '{}'", iso(found), iso(expected))
}

pub(crate) fn conditional_not_open(found: &str, missing1: &str, missing2: &str) -> String {
    format!(
        "Found '{}', but missing '{}' or '{}'",
        iso(found),
        iso(missing1),
        iso(missing2)
    )
}

pub(crate) fn missing_cloze(number: u32) -> String {
    format!(
        "No cloze {} found on card.\nPlease either add a cloze deletion, or use the Empty Cards tool.",
        iso(&number.to_string())
    )
}

/// `errors-bad-directive` with `errors-option-not-set` as its error: the text Anki shows (in
/// brackets) in place of a `[anki:tts]` tag without a language.
pub(crate) fn tts_lang_not_set() -> String {
    let error = format!("'{}' not set", iso("lang"));
    format!("Error in directive '{}': {}", iso("anki:tts"), iso(&error))
}
