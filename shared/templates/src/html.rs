//! HTML helpers with Anki's exact semantics (`rslib/src/text.rs`): tag stripping, entity
//! decoding and the "is this field empty" test.
//!
//! Anki strips tags with one regex, `(?si)(<!--.*?-->)|(<style.*?>.*?</style>)|
//! (<script.*?>.*?</script>)|(<.*?>)`, replaced globally. Replacing all matches of it is quadratic
//! on inputs such as `<style>` repeated a million times (every search scans to the end to rule the
//! `<style` alternative out), so [`strip_html_preserving_entities`] implements the same leftmost-
//! first matching by hand over precomputed positions of the closing delimiters: linear-ish
//! (`O(n log n)`) on any input, same output.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// Sorted byte offsets of one delimiter in a text, answering "first one at or after `x`".
pub(crate) struct Positions(Vec<usize>);

impl Positions {
    /// Offsets of every occurrence of `needle` (ASCII) in `text`, case-insensitively in the
    /// regex crate's sense when `ci` (see [`match_ascii_ci`]).
    pub(crate) fn of(text: &str, needle: &[u8], ci: bool) -> Self {
        let b = text.as_bytes();
        let mut out = Vec::new();
        if needle.is_empty() {
            return Self(out);
        }
        let first = needle[0];
        let mut i = 0;
        while let Some(off) = b[i..].iter().position(|&c| c == first) {
            let at = i + off;
            let hit = if ci {
                match_ascii_ci(b, at, needle).is_some()
            } else {
                b[at..].starts_with(needle)
            };
            if hit {
                out.push(at);
            }
            i = at + 1;
        }
        Self(out)
    }

    /// Offsets of every occurrence of the byte `c`.
    pub(crate) fn of_byte(text: &str, c: u8) -> Self {
        Self(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == c)
                .map(|(i, _)| i)
                .collect(),
        )
    }

    pub(crate) fn from_sorted(v: Vec<usize>) -> Self {
        Self(v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().copied()
    }

    pub(crate) fn first_at_or_after(&self, x: usize) -> Option<usize> {
        let i = self.0.partition_point(|&p| p < x);
        self.0.get(i).copied()
    }
}

/// Does `word` (ASCII, non-letters matched exactly) occur at `at` under the regex crate's `(?i)`?
/// That is Unicode simple case folding, which for ASCII letters adds exactly two non-ASCII
/// spellings: `ſ` (U+017F) for `s` and the Kelvin sign (U+212A) for `k`. Returns the end offset.
pub(crate) fn match_ascii_ci(b: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    let mut i = at;
    for &w in word {
        let c = *b.get(i)?;
        if w.is_ascii_alphabetic() {
            if c.eq_ignore_ascii_case(&w) {
                i += 1;
                continue;
            }
            let lower = w.to_ascii_lowercase();
            if lower == b's' && b[i..].starts_with("\u{17f}".as_bytes()) {
                i += 2;
                continue;
            }
            if lower == b'k' && b[i..].starts_with("\u{212a}".as_bytes()) {
                i += 3;
                continue;
            }
            return None;
        }
        if c != w {
            return None;
        }
        i += 1;
    }
    Some(i)
}

/// Delimiter positions for [`strip_html_preserving_entities`], computed once per text.
struct TagScanner {
    gt: Positions,
    comment_end: Positions,
    style_end: Positions,
    script_end: Positions,
}

impl TagScanner {
    fn new(text: &str) -> Self {
        Self {
            gt: Positions::of_byte(text, b'>'),
            comment_end: Positions::of(text, b"-->", false),
            style_end: Positions::of(text, b"</style>", true),
            script_end: Positions::of(text, b"</script>", true),
        }
    }

    /// The end of the regex's match starting at the `<` at `at`, if one starts there. `Err(())`
    /// when no `>` follows at all, so no later match can exist either.
    fn match_at(&self, b: &[u8], at: usize) -> Result<Option<usize>, ()> {
        if b[at..].starts_with(b"<!--")
            && let Some(e) = self.comment_end.first_at_or_after(at + 4)
        {
            return Ok(Some(e + 3));
        }
        for (open, close, ends) in [
            (&b"<style"[..], &b"</style>"[..], &self.style_end),
            (&b"<script"[..], &b"</script>"[..], &self.script_end),
        ] {
            if let Some(after) = match_ascii_ci(b, at, open)
                && let Some(gt) = self.gt.first_at_or_after(after)
                && let Some(e) = ends.first_at_or_after(gt + 1)
            {
                // A case-insensitive closer may be longer than its ASCII spelling (`ſ`).
                return Ok(Some(match_ascii_ci(b, e, close).unwrap_or(e + close.len())));
            }
        }
        match self.gt.first_at_or_after(at + 1) {
            Some(gt) => Ok(Some(gt + 1)),
            None => Err(()),
        }
    }
}

/// Anki's `strip_html_preserving_entities`: remove comments, `<style>`/`<script>` elements with
/// their content, and every other tag.
pub fn strip_html_preserving_entities(html: &str) -> Cow<'_, str> {
    let b = html.as_bytes();
    let Some(first_lt) = b.iter().position(|&c| c == b'<') else {
        return Cow::Borrowed(html);
    };
    let scanner = TagScanner::new(html);
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    let mut at = first_lt;
    let mut changed = false;
    loop {
        match scanner.match_at(b, at) {
            Ok(Some(end)) => {
                out.push_str(&html[copied..at]);
                copied = end;
                changed = true;
                at = end;
            }
            Ok(None) => at += 1,
            Err(()) => break,
        }
        match b[at.min(b.len())..].iter().position(|&c| c == b'<') {
            Some(off) => at += off,
            None => break,
        }
    }
    if !changed {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// Anki's `decode_entities`: decode with `htmlescape` (strict: any malformed or unknown entity
/// leaves the whole text undecoded), then turn non-breaking spaces into spaces.
pub fn decode_entities(html: &str) -> Cow<'_, str> {
    if !html.contains('&') {
        return Cow::Borrowed(html);
    }
    match htmlescape::decode_html(html) {
        Ok(text) => Cow::Owned(text.replace('\u{a0}', " ")),
        Err(_) => Cow::Borrowed(html),
    }
}

/// Anki's `strip_html`: tags removed, then entities decoded.
pub fn strip_html(html: &str) -> Cow<'_, str> {
    match strip_html_preserving_entities(html) {
        Cow::Borrowed(s) => decode_entities(s),
        Cow::Owned(s) => match decode_entities(&s) {
            Cow::Borrowed(_) => Cow::Owned(s),
            Cow::Owned(d) => Cow::Owned(d),
        },
    }
}

/// Anki's `strip_html_for_tts`: block-level tags become spaces before stripping.
pub(crate) fn strip_html_for_tts(html: &str) -> String {
    static LINEBREAK_TAGS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?xsi)
            </?
            (?:
                br|address|article|aside|blockquote|canvas|dd|div
                |dl|dt|fieldset|figcaption|figure|footer|form
                |h[1-6]|header|hr|li|main|nav|noscript|ol
                |output|p|pre|section|table|tfoot|ul|video
            )
            >
        ",
        )
        .expect("static regex")
    });
    let spaced = LINEBREAK_TAGS.replace_all(html, " ");
    strip_html(&spaced).into_owned()
}

/// True if the field holds only whitespace and empty `<br>`/`<div>` tags: Anki's test for an
/// empty field, used by `{{#Field}}` sections and card generation.
pub fn field_is_empty(text: &str) -> bool {
    static EMPTY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?xsi)
            ^(?:
            [[:space:]]
            |
            </?(?:br|div)\ ?/?>
            )*$
        ",
        )
        .expect("static regex")
    });
    EMPTY.is_match(text)
}

/// `htmlescape::encode_attribute`: every ASCII non-alphanumeric and every Latin-1 character
/// becomes a `&#xHH;` reference.
pub(crate) fn encode_attribute(s: &str) -> String {
    htmlescape::encode_attribute(s)
}

/// `htmlescape::encode_minimal`: `& < > " '` escaped.
pub(crate) fn encode_minimal(s: &str) -> String {
    htmlescape::encode_minimal(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_like_anki() {
        assert_eq!(strip_html("<b>a</b>&amp;b"), "a&b");
        assert_eq!(strip_html("a<!-- x <b> -->b"), "ab");
        assert_eq!(strip_html("a<style>.x{}</style>b"), "ab");
        assert_eq!(strip_html("a<STYLE type=x>p</StYlE>b"), "ab");
        assert_eq!(strip_html("a<script>1<2</script>b"), "ab");
        // no closing </style>: the tag alone goes
        assert_eq!(strip_html("a<style>b"), "ab");
        // `<!-->` is not a comment (the closer must follow the opener)
        assert_eq!(strip_html("a<!-->b"), "ab");
        assert_eq!(strip_html("a<b"), "a<b");
        assert_eq!(strip_html("a<>b"), "ab");
        assert_eq!(strip_html("x<style</style>y"), "xy");
        // the long s is an `s` for the regex crate's case-insensitive matching
        assert_eq!(strip_html("a<\u{17f}tyle>p</\u{17f}tyle>b"), "ab");
        assert_eq!(strip_html("a&nbsp;b"), "a b");
        // a malformed entity leaves every entity undecoded, as htmlescape fails as a whole
        assert_eq!(strip_html("&amp; & b"), "&amp; & b");
        assert_eq!(strip_html("&amp;&bogus;"), "&amp;&bogus;");
    }

    #[test]
    fn empty_fields() {
        assert!(field_is_empty(""));
        assert!(field_is_empty(" "));
        assert!(!field_is_empty("x"));
        assert!(field_is_empty("<BR>"));
        assert!(field_is_empty("<div />"));
        assert!(field_is_empty(" <div> <br> </div>\n"));
        assert!(!field_is_empty(" <div>x</div>\n"));
        assert!(!field_is_empty("&nbsp;"));
    }

    #[test]
    fn hostile_strip_is_fast() {
        // Quadratic in Anki (each search scans to the end); must finish instantly here.
        let s = "<style><a>".repeat(100_000);
        assert_eq!(strip_html(&s), "");
        let s = "<!--<a>".repeat(100_000);
        assert_eq!(strip_html_preserving_entities(&s), "");
        let s = "<script".repeat(100_000) + ">";
        assert_eq!(strip_html_preserving_entities(&s), "");
    }
}
