//! LaTeX (`rslib/src/latex.rs`, applied by `pylib/anki/latex.py` to every rendered card):
//! `[latex]…[/latex]`, `[$]…[/$]` and `[$$]…[/$$]` become `<img class=latex alt="…"
//! src="latex-<sha1>.png">` (`.svg` when the note type says so). Anki then compiles missing
//! images with a local LaTeX install and appends its errors to the card when it cannot; this
//! crate only names the images, the caller decides where they come from.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use sha1::{Digest, Sha1};

use crate::html::{Positions, encode_attribute, match_ascii_ci, strip_html};

/// A LaTeX image a rendered card refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatexImage {
    /// `latex-<sha1 of latex>.png|svg`, the media file name Anki uses.
    pub file_name: String,
    /// The LaTeX source (Anki wraps it in the note type's `latexPre`/`latexPost` to compile).
    pub latex: String,
}

fn strip_html_for_latex(html: &str) -> String {
    static NEWLINES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?xi)<br( /)?>|<div>").expect("static regex"));
    let text = NEWLINES.replace_all(html, "\n");
    strip_html(&text).into_owned()
}

/// Replace every LaTeX block by its image link, as Anki's `extract_latex` does (matching the
/// same `(?si)` regex leftmost-first, here without its quadratic re-scans).
pub fn extract_latex(text: &str, svg: bool) -> (String, Vec<LatexImage>) {
    if !text.contains('[') {
        return (text.to_string(), vec![]);
    }
    let b = text.as_bytes();
    let latex_close = Positions::of(text, b"[/latex]", true);
    let inline_close = Positions::of(text, b"[/$]", false);
    let display_close = Positions::of(text, b"[/$$]", false);
    let mut out = String::with_capacity(text.len());
    let mut images = Vec::new();
    let mut copied = 0;
    let mut pos = 0;
    // `.+?` needs one character (of any width) before the closer.
    let after_one_char = |at: usize| at + text[at..].chars().next().map_or(1, char::len_utf8);
    while let Some(off) = b[pos..].iter().position(|&c| c == b'[') {
        let p = pos + off;
        let found: Option<(Cow<'_, str>, usize)> =
            if let Some(body) = match_ascii_ci(b, p, b"[latex]").filter(|&e| e < b.len()) {
                latex_close
                    .first_at_or_after(after_one_char(body))
                    .map(|c| {
                        let end = match_ascii_ci(b, c, b"[/latex]").unwrap_or(c + 8);
                        (Cow::Borrowed(&text[body..c]), end)
                    })
            } else if b[p..].starts_with(b"[$]") && p + 3 < b.len() {
                inline_close
                    .first_at_or_after(after_one_char(p + 3))
                    .map(|c| (Cow::Owned(format!("${}$", &text[p + 3..c])), c + 4))
            } else if b[p..].starts_with(b"[$$]") && p + 4 < b.len() {
                display_close
                    .first_at_or_after(after_one_char(p + 4))
                    .map(|c| {
                        (
                            Cow::Owned(format!(
                                r"\begin{{displaymath}}{}\end{{displaymath}}",
                                &text[p + 4..c]
                            )),
                            c + 5,
                        )
                    })
            } else {
                None
            };
        match found {
            Some((latex, end)) => {
                let latex = strip_html_for_latex(&latex);
                let ext = if svg { "svg" } else { "png" };
                let file_name = format!(
                    "latex-{}.{ext}",
                    hex::encode(Sha1::digest(latex.as_bytes()))
                );
                out.push_str(&text[copied..p]);
                out.push_str(&format!(
                    "<img class=latex alt=\"{}\" src=\"{file_name}\">",
                    encode_attribute(&latex)
                ));
                images.push(LatexImage { file_name, latex });
                copied = end;
                pos = end;
            }
            None => pos = p + 1,
        }
    }
    out.push_str(&text[copied..]);
    (out, images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latex_like_anki() {
        let fname = "latex-ef30b3f4141c33a5bf7044b0d1961d3399c05d50.png";
        assert_eq!(
            extract_latex("a[latex]one<br>and<div>two[/latex]b", false),
            (
                format!("a<img class=latex alt=\"one&#x0A;and&#x0A;two\" src=\"{fname}\">b"),
                vec![LatexImage {
                    file_name: fname.into(),
                    latex: "one\nand\ntwo".into()
                }]
            )
        );
        assert_eq!(
            extract_latex("[$]<b>hello</b>&nbsp; world[/$]", true).1,
            vec![LatexImage {
                file_name: "latex-060219fbf3ddb74306abddaf4504276ad793b029.svg".into(),
                latex: "$hello  world$".into()
            }]
        );
        assert_eq!(
            extract_latex("[$$]math &amp; stuff[/$$]", false).1,
            vec![LatexImage {
                file_name: "latex-8899f3f849ffdef6e4e9f2f34a923a1f608ebc07.png".into(),
                latex: r"\begin{displaymath}math & stuff\end{displaymath}".into()
            }]
        );
        // the body needs one character, so an immediate closer is part of it
        assert_eq!(extract_latex("[$][/$][/$]", false).1[0].latex, "$[/$]$");
        assert_eq!(extract_latex("[LaTeX]x[/LATEX]", false).1.len(), 1);
        assert_eq!(extract_latex("[latex][/latex]", false).1.len(), 0);
    }

    #[test]
    fn hostile_latex_is_fast() {
        let s = "[latex][$]a[/$]".repeat(100_000);
        let (out, images) = extract_latex(&s, false);
        assert_eq!(images.len(), 100_000);
        assert!(out.starts_with("[latex]<img"));
    }
}
