//! Built-in field filters (`rslib/src/template_filters.rs`), applied right to left.
//!
//! Anki's Rust code applies built-in filters until the first one it does not know and hands the
//! rest to Python add-on hooks; with no add-on registered those return the text unchanged. So an
//! unknown filter ends the chain: `{{text:unknown:F}}` shows F's raw HTML.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::cloze::{cloze_filter, cloze_only_filter};
use crate::html::strip_html;
use crate::template::{Budget, Failure, RenderContext};

pub(crate) fn apply_filters(
    text: &str,
    filters: &[String],
    field_name: &str,
    ctx: &RenderContext<'_>,
    budget: &mut Budget,
) -> Result<String, Failure> {
    let names: Vec<&str> = filters.iter().map(String::as_str).collect();
    // `type:` swallows every filter after it; `type:cloze:` and `type:nc:` are variants.
    let names: &[&str] = match names.as_slice() {
        ["cloze", "type"] => &["type-cloze"],
        ["nc", "type"] => &["type-nc"],
        [.., "type"] => &["type"],
        other => other,
    };
    let mut text: Cow<'_, str> = Cow::Borrowed(text);
    for name in names {
        budget.spend(text.len())?;
        match apply_filter(name, &text, field_name, ctx) {
            Some(Cow::Owned(out)) => {
                budget.check_len(out.len())?;
                text = Cow::Owned(out);
            }
            Some(Cow::Borrowed(_)) => {}
            None => break,
        }
    }
    Ok(text.into_owned())
}

/// One built-in filter; `None` if the name is not a built-in one.
fn apply_filter<'t>(
    name: &str,
    text: &'t str,
    field_name: &str,
    ctx: &RenderContext<'_>,
) -> Option<Cow<'t, str>> {
    Some(match name {
        "text" => strip_html(text),
        "furigana" => Cow::Owned(furigana_filter(text)),
        "kanji" => Cow::Owned(kanji_filter(text)),
        "kana" => Cow::Owned(kana_filter(text)),
        "type" => Cow::Owned(format!("[[type:{field_name}]]")),
        "type-cloze" => Cow::Owned(format!("[[type:cloze:{field_name}]]")),
        "type-nc" => Cow::Owned(format!("[[type:nc:{field_name}]]")),
        "hint" => hint_filter(text, field_name),
        "cloze" => Cow::Owned(cloze_filter(text, ctx.card_ord, ctx.question_side)),
        "cloze-only" => Cow::Owned(cloze_only_filter(text, ctx.card_ord, ctx.question_side)),
        // `{{a::F}}`: the empty name between two colons is skipped
        "" => Cow::Borrowed(text),
        _ => {
            let options = name.strip_prefix("tts ")?;
            Cow::Owned(format!("[anki:tts lang={options}]{text}[/anki:tts]"))
        }
    })
}

static FURIGANA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r" ?([^ >]+?)\[(.+?)\]").expect("static regex"));

/// Apply `f(base, reading)` to every `base[reading]`, leaving `[sound:…]` lookalikes alone.
fn ruby(text: &str, f: impl Fn(&str, &str) -> String) -> String {
    let text = text.replace("&nbsp;", " ");
    FURIGANA
        .replace_all(&text, |caps: &Captures<'_>| {
            let whole = caps.get(0).map_or("", |m| m.as_str());
            let base = caps.get(1).map_or("", |m| m.as_str());
            let reading = caps.get(2).map_or("", |m| m.as_str());
            if reading.starts_with("sound:") {
                whole.to_string()
            } else {
                f(base, reading)
            }
        })
        .into_owned()
}

fn kana_filter(text: &str) -> String {
    ruby(text, |_, reading| reading.to_string())
}

fn kanji_filter(text: &str) -> String {
    ruby(text, |base, _| base.to_string())
}

fn furigana_filter(text: &str) -> String {
    ruby(text, |base, reading| {
        format!("<ruby><rb>{base}</rb><rt>{reading}</rt></ruby>")
    })
}

/// A link that reveals the text; its DOM id is the first 8 bytes of the BLAKE3 hash of the text
/// and the field name, so it is stable across renders.
fn hint_filter<'t>(text: &'t str, field_name: &str) -> Cow<'t, str> {
    if text.trim().is_empty() {
        return Cow::Borrowed(text);
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(text.as_bytes());
    hasher.update(field_name.as_bytes());
    let id = hex::encode(&hasher.finalize().as_bytes()[0..8]);
    Cow::Owned(format!(
        r##"
<a class=hint href="#"
onclick="this.style.display='none';
document.getElementById('hint{id}').style.display='block';
return false;" draggable=false>
{field_name}</a>
<div id="hint{id}" class=hint style="display: none">{text}</div>
"##
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn furigana() {
        let text = "test first[second] third[fourth]";
        assert_eq!(kana_filter(text), "testsecondfourth");
        assert_eq!(kanji_filter(text), "testfirstthird");
        assert_eq!(
            furigana_filter("first[second]"),
            "<ruby><rb>first</rb><rt>second</rt></ruby>"
        );
        assert_eq!(kana_filter("a [sound:x.mp3]"), "a [sound:x.mp3]");
        assert_eq!(kanji_filter("日本&nbsp;語[ご]"), "日本語");
    }

    #[test]
    fn hint() {
        assert_eq!(
            hint_filter("foo", "field"),
            r##"
<a class=hint href="#"
onclick="this.style.display='none';
document.getElementById('hint83fe48607f0f3a66').style.display='block';
return false;" draggable=false>
field</a>
<div id="hint83fe48607f0f3a66" class=hint style="display: none">foo</div>
"##
        );
        assert_eq!(hint_filter("  ", "field"), "  ");
    }

    #[test]
    fn hostile_furigana_is_fast() {
        let s = "a[".repeat(300_000) + "]";
        assert_eq!(kana_filter(&s).len(), s.len() - 3);
        let s = "x[\n".repeat(300_000);
        assert_eq!(kanji_filter(&s), s);
    }
}
