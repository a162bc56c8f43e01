//! Media references in note fields, found and rewritten as Anki's importer does (facts from
//! rslib `text.rs`, `replace_media_refs`): the `src`/`data` attribute of an `img`, `audio`,
//! `video`, `object` or `source` tag (quoted or not), then `[sound:…]` tags (which also carry
//! videos). Each reference's name is entity-decoded before it is looked up; the new name is
//! entity-encoded again when the old one was written with entities, and, as in Anki, every
//! occurrence of the old name inside that one tag is replaced.

use std::borrow::Cow;
use std::path::{Component, Path};
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// An HTML tag that loads media, and its file name (group 1, 2 or 3). The same grammar as
/// Anki's `HTML_MEDIA_TAGS`: the tag name, then as few characters as possible (quoted runs
/// kept whole) up to a `src=` or `data=` attribute whose value is double-quoted, single-quoted
/// or bare. Anki's pattern is in verbose mode, where the space inside its bare-value class
/// `[^ >]` is ignored: a bare value is any run without `>`, ended by a space (then anything up
/// to `>`) or by `>` itself, and lazily, so the first space ends it.
static HTML_MEDIA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?si)<\b(?:img|audio|video|object|source)\b"#,
        r#"(?:[^>]|"[^"]+?"|'[^']+?')+?"#,
        r#"\b(?:src|data)\b="#,
        r#"(?:"([^"]+?)"[^>]*>|'([^']+?)'[^>]*>|([^>]+?)(?: [^>]*>|>))"#,
    ))
    .expect("static regex")
});

/// `[sound:name]`, the shortest name up to the first `]`.
static AV_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)\[sound:(.+?)\]").expect("static regex"));

/// Call `replacer` with the (entity-decoded) name of every media reference in `field`; a
/// `Some` answer becomes the reference's new name. `None` when the field holds no reference
/// (nothing to rewrite).
pub(crate) fn replace_media_refs(
    field: &str,
    mut replacer: impl FnMut(&str) -> Option<String>,
) -> Option<String> {
    // Cheap refusal for the common field without any media.
    if !field.contains('<') && !field.contains("[sound:") {
        return None;
    }
    let mut rewrite = |caps: &Captures<'_>| -> String {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let Some(old) = caps.iter().skip(1).flatten().next().map(|m| m.as_str()) else {
            return whole.to_owned();
        };
        let (decoded, was_encoded) = decode_entities(old);
        match replacer(&decoded) {
            Some(new) => {
                let new = if was_encoded {
                    htmlescape::encode_minimal(&new)
                } else {
                    new
                };
                whole.replace(old, &new)
            }
            None => whole.to_owned(),
        }
    };
    let html = HTML_MEDIA.replace_all(field, &mut rewrite);
    let av = match AV_TAG.replace_all(&html, &mut rewrite) {
        Cow::Borrowed(_) => None,
        Cow::Owned(s) => Some(s),
    };
    match (av, html) {
        (Some(s), _) => Some(s),
        (None, Cow::Owned(s)) => Some(s),
        (None, Cow::Borrowed(_)) => None,
    }
}

/// Anki's `decode_entities`: with `htmlescape` (any malformed entity leaves the name as it
/// is), non-breaking spaces as spaces; and whether it counts as decoded (Anki then encodes the
/// new name), which is whenever the name holds a `&` that decoded.
fn decode_entities(name: &str) -> (Cow<'_, str>, bool) {
    if !name.contains('&') {
        return (Cow::Borrowed(name), false);
    }
    match htmlescape::decode_html(name) {
        Ok(text) => (Cow::Owned(text.replace('\u{a0}', " ")), true),
        Err(_) => (Cow::Borrowed(name), false),
    }
}

/// Anki's `filename_is_safe`: the name is one plain path component (no directory, no `..`,
/// not absolute). References that are not are never rewritten.
pub(crate) fn filename_is_safe(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rename(field: &str, from: &str, to: &str) -> String {
        replace_media_refs(field, |n| (n == from).then(|| to.to_owned()))
            .unwrap_or_else(|| field.to_owned())
    }

    #[test]
    fn every_reference_form() {
        for (field, want) in [
            (r#"<img src="a.png">"#, r#"<img src="b.png">"#),
            (r#"<img src='a.png'>"#, r#"<img src='b.png'>"#),
            ("<img src=a.png>", "<img src=b.png>"),
            ("<img src=a.png class=x>", "<img src=b.png class=x>"),
            (
                r#"<IMG class="x" SRC="a.png" />"#,
                r#"<IMG class="x" SRC="b.png" />"#,
            ),
            (
                r#"<audio controls src="a.png">"#,
                r#"<audio controls src="b.png">"#,
            ),
            (r#"<video src="a.png">"#, r#"<video src="b.png">"#),
            (r#"<source src="a.png">"#, r#"<source src="b.png">"#),
            (r#"<object data="a.png">"#, r#"<object data="b.png">"#),
            ("[sound:a.png]", "[sound:b.png]"),
            (
                "x [sound:a.png] y [sound:c.mp3]",
                "x [sound:b.png] y [sound:c.mp3]",
            ),
            // Every occurrence of the name inside the tag, as Anki does.
            (
                r#"<img alt="a.png" src="a.png">"#,
                r#"<img alt="b.png" src="b.png">"#,
            ),
            // Not a media attribute or not a media tag.
            (r#"<a href="a.png">"#, r#"<a href="a.png">"#),
            (r#"<img srcset="a.png">"#, r#"<img srcset="a.png">"#),
            ("a.png", "a.png"),
        ] {
            assert_eq!(rename(field, "a.png", "b.png"), want, "{field}");
        }
    }

    #[test]
    fn entities_are_decoded_then_the_new_name_encoded() {
        assert_eq!(
            rename(r#"<img src="x&amp;y.png">"#, "x&y.png", "x&y-1.png"),
            r#"<img src="x&amp;y-1.png">"#
        );
        assert_eq!(
            rename("[sound:x&amp;y.mp3]", "x&y.mp3", "z.mp3"),
            "[sound:z.mp3]"
        );
        // A malformed entity: the name is looked up as written.
        assert_eq!(
            rename("[sound:x&zz;.mp3]", "x&zz;.mp3", "z.mp3"),
            "[sound:z.mp3]"
        );
    }

    #[test]
    fn bare_values_end_at_the_first_space() {
        let mut seen = Vec::new();
        replace_media_refs("<img src=a b.png>", |n| {
            seen.push(n.to_owned());
            None
        });
        assert_eq!(seen, ["a"]);
    }

    #[test]
    fn safe_names() {
        assert!(filename_is_safe("a.png") && filename_is_safe("a b.png"));
        for bad in ["", ".", "..", "/a", "a/b", "../a", "./a"] {
            assert!(!filename_is_safe(bad), "{bad}");
        }
    }

    /// A field at the size limit made of half-open tags and references: the `regex` crate's
    /// matching is linear by construction (no backtracking), so this is about what is found,
    /// not how fast (`make bench` is where speed is measured): the noise hides no real reference.
    #[test]
    fn hostile_fields_still_find_every_reference() {
        let field = "<img <img src=\"x [sound:".repeat(4_000) + &"<img src=a.png>".repeat(2_000);
        let mut seen = Vec::new();
        replace_media_refs(&field, |n| {
            seen.push(n.to_owned());
            None
        });
        assert!(
            seen.iter().filter(|n| *n == "a.png").count() >= 1_999,
            "{}",
            seen.len()
        );
    }
}
