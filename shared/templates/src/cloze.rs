//! Cloze deletions (`rslib/src/cloze.rs`): `{{c1::answer::hint}}`, several numbers on one
//! deletion (`{{c1,2::…}}`), nesting, the question/answer HTML, `cloze-only`, and the numbers a
//! note's fields hold (which decide the cards of a cloze note).
//!
//! Anki's quirks are kept on purpose: at most 10 deletions can be open at once (deeper openers
//! are ignored, their closers still close), a deletion never closed is dropped with its content,
//! the hint is whatever follows the last `::` in the deletion's last text run, and a field
//! without an active deletion renders as nothing.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::html::{encode_attribute, strip_html_preserving_entities};
use crate::image_occlusion::image_cloze_data;

#[derive(Debug)]
enum Token<'a> {
    /// The cloze numbers as written, deduplicated and sorted.
    OpenCloze(Vec<u16>),
    Text(&'a str),
    CloseCloze,
}

/// `{{c<digits and commas>::` at the start of `s`: the numbers and the opener's length.
fn open_cloze(s: &[u8]) -> Option<(Vec<u16>, usize)> {
    if !s.starts_with(b"{{c") {
        return None;
    }
    let run = s[3..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b',')
        .count();
    let digits = std::str::from_utf8(&s[3..3 + run]).ok()?;
    let ordinals: BTreeSet<u16> = digits.split(',').filter_map(|d| d.parse().ok()).collect();
    if ordinals.is_empty() || !s[3 + run..].starts_with(b"::") {
        return None;
    }
    Some((ordinals.into_iter().collect(), 3 + run + 2))
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let b = text.as_bytes();
    let mut tokens = Vec::new();
    let mut text_start = 0;
    let mut pos = 0;
    while let Some(off) = b[pos..].iter().position(|&c| c == b'{' || c == b'}') {
        let at = pos + off;
        let marker = if b[at] == b'{' {
            open_cloze(&b[at..]).map(|(ords, len)| (Token::OpenCloze(ords), len))
        } else if b[at..].starts_with(b"}}") {
            Some((Token::CloseCloze, 2))
        } else {
            None
        };
        match marker {
            Some((token, len)) => {
                if at > text_start {
                    tokens.push(Token::Text(&text[text_start..at]));
                }
                tokens.push(token);
                pos = at + len;
                text_start = pos;
            }
            None => pos = at + 1,
        }
    }
    if text_start < text.len() {
        tokens.push(Token::Text(&text[text_start..]));
    }
    tokens
}

#[derive(Debug)]
enum TextOrCloze<'a> {
    Text(&'a str),
    Cloze(ExtractedCloze<'a>),
}

#[derive(Debug)]
struct ExtractedCloze<'a> {
    ordinals: Vec<u16>,
    nodes: Vec<TextOrCloze<'a>>,
    hint: Option<&'a str>,
}

fn ordinals_str(ordinals: &[u16]) -> String {
    ordinals
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl ExtractedCloze<'_> {
    fn hint(&self) -> &str {
        self.hint.unwrap_or("...")
    }

    /// The deletion's text with every nested deletion revealed, without markup.
    fn clozed_text(&self) -> Cow<'_, str> {
        if let [TextOrCloze::Text(text)] = self.nodes.as_slice() {
            return Cow::Borrowed(text);
        }
        let mut buf = String::new();
        for node in &self.nodes {
            match node {
                TextOrCloze::Text(text) => buf.push_str(text),
                TextOrCloze::Cloze(cloze) => buf.push_str(&cloze.clozed_text()),
            }
        }
        Cow::Owned(buf)
    }

    fn contains_ordinal(&self, ordinal: u16) -> bool {
        self.ordinals.contains(&ordinal)
    }

    fn image_occlusion(&self) -> Option<&str> {
        let Some(TextOrCloze::Text(text)) = self.nodes.first() else {
            return None;
        };
        text.strip_prefix("image-occlusion:")
    }
}

/// Anki never nests deeper than this; further openers are ignored.
const MAX_OPEN_CLOZES: usize = 10;

fn parse_text_with_clozes(text: &str) -> Vec<TextOrCloze<'_>> {
    let mut open_clozes: Vec<ExtractedCloze<'_>> = vec![];
    let mut output = vec![];
    for token in tokenize(text) {
        match token {
            Token::OpenCloze(ordinals) => {
                if open_clozes.len() < MAX_OPEN_CLOZES {
                    open_clozes.push(ExtractedCloze {
                        ordinals,
                        nodes: Vec::with_capacity(1),
                        hint: None,
                    });
                }
            }
            Token::Text(mut text) => {
                if let Some(cloze) = open_clozes.last_mut() {
                    if !text.starts_with("image-occlusion:")
                        && let Some((head, tail)) = text.split_once("::")
                    {
                        text = head;
                        cloze.hint = Some(tail);
                    }
                    cloze.nodes.push(TextOrCloze::Text(text));
                } else {
                    output.push(TextOrCloze::Text(text));
                }
            }
            Token::CloseCloze => {
                if let Some(cloze) = open_clozes.pop() {
                    let target = match open_clozes.last_mut() {
                        Some(outer) => &mut outer.nodes,
                        None => &mut output,
                    };
                    target.push(TextOrCloze::Cloze(cloze));
                } else {
                    output.push(TextOrCloze::Text("}}"));
                }
            }
        }
    }
    output
}

fn reveal_cloze_text_in_nodes(
    node: &TextOrCloze<'_>,
    cloze_ord: u16,
    question: bool,
    output: &mut Vec<String>,
) {
    if let TextOrCloze::Cloze(cloze) = node {
        if cloze.contains_ordinal(cloze_ord) {
            if question {
                output.push(cloze.hint().into())
            } else {
                output.push(cloze.clozed_text().into())
            }
        }
        for node in &cloze.nodes {
            reveal_cloze_text_in_nodes(node, cloze_ord, question, output);
        }
    }
}

fn reveal_cloze(
    cloze: &ExtractedCloze<'_>,
    cloze_ord: u16,
    question: bool,
    active_cloze_found_in_text: &mut bool,
    buf: &mut String,
) {
    let active = cloze.contains_ordinal(cloze_ord);
    *active_cloze_found_in_text |= active;

    if let Some(image_occlusion_text) = cloze.image_occlusion() {
        buf.push_str(&render_image_occlusion(
            image_occlusion_text,
            question,
            active,
            &cloze.ordinals,
        ));
        return;
    }
    let ords = ordinals_str(&cloze.ordinals);
    match (question, active) {
        (true, true) => {
            // The question hides the whole deletion; its content (nested deletions rendered
            // for this card) goes into data-cloze for scripts that reveal it.
            let mut content_buf = String::new();
            for node in &cloze.nodes {
                match node {
                    TextOrCloze::Text(text) => content_buf.push_str(text),
                    TextOrCloze::Cloze(inner) => reveal_cloze(
                        inner,
                        cloze_ord,
                        question,
                        active_cloze_found_in_text,
                        &mut content_buf,
                    ),
                }
            }
            let _ = write!(
                buf,
                r#"<span class="cloze" data-cloze="{}" data-ordinal="{ords}">[{}]</span>"#,
                encode_attribute(&content_buf),
                cloze.hint()
            );
        }
        (false, true) | (_, false) => {
            let class = if active { "cloze" } else { "cloze-inactive" };
            let _ = write!(buf, r#"<span class="{class}" data-ordinal="{ords}">"#);
            for node in &cloze.nodes {
                match node {
                    TextOrCloze::Text(text) => buf.push_str(text),
                    TextOrCloze::Cloze(inner) => {
                        reveal_cloze(inner, cloze_ord, question, active_cloze_found_in_text, buf)
                    }
                }
            }
            buf.push_str("</span>");
        }
    }
}

fn render_image_occlusion(text: &str, question: bool, active: bool, ordinals: &[u16]) -> String {
    let class = if (question && active) || ordinals.contains(&0) {
        "cloze"
    } else if !active {
        "cloze-inactive"
    } else {
        "cloze-highlight"
    };
    format!(
        r#"<div class="{class}" data-ordinal="{}" {}></div>"#,
        ordinals_str(ordinals),
        image_cloze_data(text)
    )
}

/// The field with deletion `cloze_ord` hidden (question) or shown (answer) and every other one
/// shown; empty if the field has no deletion with that number.
pub fn reveal_cloze_text(text: &str, cloze_ord: u16, question: bool) -> String {
    let mut buf = String::new();
    let mut active_cloze_found_in_text = false;
    for node in &parse_text_with_clozes(text) {
        match node {
            TextOrCloze::Text(text) => buf.push_str(text),
            TextOrCloze::Cloze(cloze) => reveal_cloze(
                cloze,
                cloze_ord,
                question,
                &mut active_cloze_found_in_text,
                &mut buf,
            ),
        }
    }
    if active_cloze_found_in_text {
        buf
    } else {
        String::new()
    }
}

/// `cloze-only`: the hints (question) or texts (answer) of deletion `cloze_ord`, joined by ", ".
fn reveal_cloze_text_only(text: &str, cloze_ord: u16, question: bool) -> String {
    let mut output = Vec::new();
    for node in &parse_text_with_clozes(text) {
        reveal_cloze_text_in_nodes(node, cloze_ord, question, &mut output);
    }
    output.join(", ")
}

/// What a student must type for `{{type:cloze:Field}}` on card `cloze_ord` (1-based): the texts
/// of that deletion, joined by ", " unless they are all the same.
pub fn extract_cloze_for_typing(text: &str, cloze_ord: u16) -> String {
    let mut output = Vec::new();
    for node in &parse_text_with_clozes(text) {
        reveal_cloze_text_in_nodes(node, cloze_ord, false, &mut output);
    }
    if output.is_empty() {
        String::new()
    } else if output.iter().min() == output.iter().max() {
        output.pop().unwrap_or_default()
    } else {
        output.join(", ")
    }
}

fn add_cloze_numbers(nodes: &[TextOrCloze<'_>], set: &mut BTreeSet<u16>) {
    for node in nodes {
        if let TextOrCloze::Cloze(cloze) = node {
            set.extend(cloze.ordinals.iter().copied().filter(|&o| o != 0));
            add_cloze_numbers(&cloze.nodes, set);
        }
    }
}

/// The cloze numbers (1-based, `c0` excluded) of every closed deletion in `text`.
pub fn cloze_numbers_in_str(text: &str) -> BTreeSet<u16> {
    let mut set = BTreeSet::new();
    add_cloze_numbers(&parse_text_with_clozes(text), &mut set);
    set
}

/// [`cloze_numbers_in_str`] over several fields.
pub fn cloze_numbers_in_fields<S: AsRef<str>>(
    fields: impl IntoIterator<Item = S>,
) -> BTreeSet<u16> {
    let mut set = BTreeSet::new();
    for field in fields {
        add_cloze_numbers(&parse_text_with_clozes(field.as_ref()), &mut set);
    }
    set
}

static MATHJAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xsi)
            (\\[(\[])       # 1 = mathjax opening tag
            (.*?)           # 2 = inner content
            (\\[])])        # 3 = mathjax closing tag
           ",
    )
    .expect("static regex")
});

/// Tags inside `\(…\)` / `\[…\]` would break MathJax, so the cloze filter removes them.
fn strip_html_inside_mathjax(text: &str) -> String {
    MATHJAX
        .replace_all(text, |caps: &Captures<'_>| {
            let group = |i| caps.get(i).map_or("", |m| m.as_str());
            format!(
                "{}{}{}",
                group(1),
                strip_html_preserving_entities(group(2)),
                group(3)
            )
        })
        .into_owned()
}

/// The `cloze:` filter for card ordinal `card_ord` (0-based).
pub(crate) fn cloze_filter(text: &str, card_ord: u16, question: bool) -> String {
    // Anki adds in u16 and builds release binaries without overflow checks.
    strip_html_inside_mathjax(&reveal_cloze_text(text, card_ord.wrapping_add(1), question))
}

/// The `cloze-only:` filter for card ordinal `card_ord` (0-based).
pub(crate) fn cloze_only_filter(text: &str, card_ord: u16, question: bool) -> String {
    reveal_cloze_text_only(text, card_ord.wrapping_add(1), question)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::strip_html;

    fn set(v: &[u16]) -> BTreeSet<u16> {
        v.iter().copied().collect()
    }

    fn plain(text: &str, ord: u16, question: bool) -> String {
        strip_html(&reveal_cloze_text(text, ord, question)).into_owned()
    }

    #[test]
    fn numbers() {
        assert_eq!(cloze_numbers_in_str("test"), set(&[]));
        assert_eq!(cloze_numbers_in_str("{{c2::te}}{{c1::s}}t{{"), set(&[1, 2]));
        assert_eq!(cloze_numbers_in_str("{{c0::te}}s{{c2::t}}s"), set(&[2]));
        assert_eq!(cloze_numbers_in_str("{{c1,2,3::multi}}"), set(&[1, 2, 3]));
        assert_eq!(cloze_numbers_in_str("{{c0,1,2::test}}"), set(&[1, 2]));
        assert_eq!(cloze_numbers_in_str("{{c1,,3::test}}"), set(&[1, 3]));
        assert_eq!(cloze_numbers_in_str("{{c2::te{{c1::s}}}}t{{"), set(&[1, 2]));
        assert_eq!(cloze_numbers_in_str("öaöaöööaö"), set(&[]));
        // never closed: dropped
        assert_eq!(cloze_numbers_in_str("{{c1::open"), set(&[]));
        // out of u16 range: not a number
        assert_eq!(cloze_numbers_in_str("{{c70000::x}}{{c3::y}}"), set(&[3]));
    }

    #[test]
    fn question_and_answer_html() {
        let text = "{{c1::one}} {{c2::two::hint}}";
        assert_eq!(
            cloze_filter(text, 0, true),
            r#"<span class="cloze" data-cloze="one" data-ordinal="1">[...]</span> <span class="cloze-inactive" data-ordinal="2">two</span>"#
        );
        assert_eq!(strip_html(&cloze_filter(text, 1, true)), "one [hint]");
        assert_eq!(strip_html(&cloze_filter(text, 1, false)), "one two");
        assert_eq!(cloze_filter(text, 2, true), "");
    }

    #[test]
    fn nested() {
        assert_eq!(plain("foo {{c1::bar {{c2::baz}}}}", 1, true), "foo [...]");
        assert_eq!(
            plain("foo {{c1::bar {{c2::baz}}}}", 1, false),
            "foo bar baz"
        );
        assert_eq!(
            plain("foo {{c1::bar {{c2::baz}}::qux}}", 2, true),
            "foo bar [...]"
        );
        assert_eq!(
            plain("foo {{c1::bar {{c2::baz}}::qux}}", 1, true),
            "foo [qux]"
        );
        assert_eq!(
            reveal_cloze_text("foo {{c1::bar {{c2::baz}}}}", 1, true),
            format!(
                r#"foo <span class="cloze" data-cloze="{}" data-ordinal="1">[...]</span>"#,
                encode_attribute(r#"bar <span class="cloze-inactive" data-ordinal="2">baz</span>"#)
            )
        );
        assert_eq!(
            reveal_cloze_text("foo {{c1::bar {{c2::baz}}::qux}}", 2, false),
            r#"foo <span class="cloze-inactive" data-ordinal="1">bar <span class="cloze" data-ordinal="2">baz</span></span>"#
        );
        assert_eq!(plain("{{c1::outer {{c1::inner}}}}", 1, true), "[...]");
    }

    #[test]
    fn several_numbers() {
        let text = "{{c1,2::shared}} word and {{c1::first}} vs {{c2::second}}";
        assert_eq!(plain(text, 1, true), "[...] word and [...] vs second");
        assert_eq!(plain(text, 2, true), "[...] word and first vs [...]");
        assert_eq!(plain(text, 2, false), "shared word and first vs second");
        assert!(reveal_cloze_text("{{c1,2,3::m}}", 3, true).contains(r#"data-ordinal="1,2,3""#));
        assert_eq!(reveal_cloze_text_only(text, 1, true), "..., ...");
        assert_eq!(reveal_cloze_text_only(text, 2, false), "shared, second");
    }

    #[test]
    fn cloze_only_and_typing() {
        assert_eq!(reveal_cloze_text_only("foo", 1, true), "");
        assert_eq!(
            reveal_cloze_text_only("foo {{c1::bar::baz}}", 1, true),
            "baz"
        );
        assert_eq!(
            reveal_cloze_text_only("{{c1::foo}} {{c1::bar}}", 1, false),
            "foo, bar"
        );
        assert_eq!(extract_cloze_for_typing("{{c2::foo}}", 1), "");
        assert_eq!(
            extract_cloze_for_typing("{{c1::foo}} {{c1::bar}} {{c1::foo}}", 1),
            "foo, bar, foo"
        );
        assert_eq!(
            extract_cloze_for_typing("{{c1::foo}} {{c1::foo}}", 1),
            "foo"
        );
    }

    #[test]
    fn mathjax() {
        assert_eq!(
            strip_html_inside_mathjax(r"\(<foo>&lt;&gt;</foo>\)"),
            r"\(&lt;&gt;\)"
        );
        assert_eq!(
            cloze_filter(r"{{c1::\(x<b>y</b>\)}}", 0, false),
            r#"<span class="cloze" data-ordinal="1">\(xy\)</span>"#
        );
    }

    #[test]
    fn image_occlusion() {
        assert_eq!(
            reveal_cloze_text(
                "{{c1::image-occlusion:rect:left=10.0:top=20:width=30:height=10}}",
                1,
                true
            ),
            r#"<div class="cloze" data-ordinal="1" data-shape="rect" data-left="10.0" data-top="20" data-width="30" data-height="10" ></div>"#
        );
    }

    #[test]
    fn nesting_is_capped_at_ten() {
        let text = "{{c1::".repeat(12) + "x" + &"}}".repeat(12);
        // the 11th and 12th openers are ignored, so the last two closers are plain text
        assert_eq!(cloze_numbers_in_str(&text), set(&[1]));
        let deep = "{{c1::".repeat(100_000) + &"}}".repeat(100_000);
        assert_eq!(cloze_numbers_in_str(&deep), set(&[1]));
    }
}
