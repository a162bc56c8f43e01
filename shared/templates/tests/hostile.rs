//! Hostile input: the renderer never panics, and work and output stay bounded.
//!
//! The hand-written scanners that replace Anki's quadratic regex loops (tag stripping, LaTeX)
//! are also checked against Anki's own regexes on small random inputs, where the regex is fast.
//! Linear scaling is measured by the criterion bench `benches/render.rs`; here the large inputs
//! are sized so that a quadratic implementation would not finish in any reasonable time.

use std::collections::BTreeSet;

use javumbo_templates::{
    Card, CardTemplate, Limits, Note, Notetype, NotetypeKind, RenderError, RenderOptions, Template,
    extract_av_tags, extract_latex, nonempty_ordinals, ordinals_to_add, render_card,
    strip_html_preserving_entities,
};
use proptest::prelude::*;
use regex::Regex;

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{#",
    "{{^",
    "{{/",
    "<!--",
    "-->",
    "{{=<% %>=}}",
    "<%",
    "%>",
    ":",
    "F",
    "G",
    "Tags",
    "FrontSide",
    "cloze",
    "cloze-only",
    "text",
    "hint",
    "type",
    "furigana",
    "kana",
    "tts en",
    "c1",
    "::",
    "[",
    "]",
    "[sound:",
    "[anki:tts lang=x]",
    "[anki:tts",
    "[/anki:tts]",
    "[anki:a b=\"",
    "[latex]",
    "[/latex]",
    "[$]",
    "[/$]",
    "<style>",
    "</style>",
    "<",
    ">",
    "&",
    "&amp;",
    ";",
    "\\(",
    "\\)",
    "{{c1::",
    "{{c2,3::",
    "image-occlusion:rect:left=1",
    " ",
    "é",
    "\n",
    "<br>",
    "=",
];

fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|v| v.concat())
}

fn notetype(kind: NotetypeKind, qfmt: &str, afmt: &str) -> Notetype {
    Notetype {
        name: "Hostile".into(),
        kind,
        fields: vec!["F".into(), "G".into()],
        templates: vec![
            CardTemplate {
                name: "Card 1".into(),
                qfmt: qfmt.into(),
                afmt: afmt.into(),
                ..Default::default()
            },
            CardTemplate {
                name: "Card 2".into(),
                qfmt: afmt.into(),
                afmt: qfmt.into(),
                bqfmt: qfmt.into(),
                ..Default::default()
            },
        ],
        css: String::new(),
        latex_svg: false,
    }
}

fn card(ord: u16) -> Card<'static> {
    Card {
        ord,
        id: 1,
        deck: Some("A::B"),
        flags: 0,
    }
}

const SMALL: Limits = Limits {
    max_output_bytes: 1 << 20,
    max_work_bytes: 4 << 20,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics(
        qfmt in hostile_text(),
        afmt in hostile_text(),
        f in hostile_text(),
        g in hostile_text(),
        cloze in any::<bool>(),
        ord in 0u16..4,
        browser in any::<bool>(),
    ) {
        let kind = if cloze { NotetypeKind::Cloze } else { NotetypeKind::Normal };
        let nt = notetype(kind, &qfmt, &afmt);
        let fields = vec![f, g];
        let note = Note { fields: &fields, tags: &[] };
        let options = RenderOptions { browser, limits: SMALL, ..Default::default() };
        match render_card(&nt, &note, &card(ord), &options) {
            Ok(out) => {
                prop_assert!(out.question.len() <= SMALL.max_output_bytes);
                prop_assert!(out.answer.len() <= SMALL.max_output_bytes);
            }
            Err(RenderError::MissingTemplate(o)) => prop_assert!(!cloze && o >= 2),
            Err(_) => {}
        }
        let _ = Template::parse(&qfmt);
        let generated = ordinals_to_add(&nt, &note, &BTreeSet::new());
        prop_assert!(!generated.is_empty());
        let _ = nonempty_ordinals(&nt, &note);
        let _ = extract_av_tags(&qfmt, true);
    }

    /// The hand-written tag stripper is Anki's regex, replaced globally.
    #[test]
    fn strip_html_matches_ankis_regex(s in prop::collection::vec(prop::sample::select(&[
        "<", ">", "<!--", "-->", "<style", "</style>", "<STYLE", "</sTyLe>", "<script", "</script>",
        "<\u{17f}cript", "a", " ", "/", "\n", "é",
    ][..]), 0..40).prop_map(|v| v.concat())) {
        let re = Regex::new(concat!(
            "(?si)",
            r"(<!--.*?-->)|(<style.*?>.*?</style>)|(<script.*?>.*?</script>)",
            r"|(<.*?>)",
        )).unwrap();
        prop_assert_eq!(strip_html_preserving_entities(&s).into_owned(), re.replace_all(&s, "").into_owned());
    }

    /// The hand-written LaTeX scanner finds exactly the matches of Anki's regex.
    #[test]
    fn latex_matches_ankis_regex(s in prop::collection::vec(prop::sample::select(&[
        "[latex]", "[/latex]", "[LaTeX]", "[/LATEX]", "[$]", "[/$]", "[$$]", "[/$$]", "[", "]",
        "$", "x", "é", "\n", "<br>",
    ][..]), 0..30).prop_map(|v| v.concat())) {
        let re = Regex::new(r"(?xsi)\[latex\](.+?)\[/latex\]|\[\$\](.+?)\[/\$\]|\[\$\$\](.+?)\[/\$\$\]").unwrap();
        let expected: Vec<(usize, usize)> = re.find_iter(&s).map(|m| (m.start(), m.end())).collect();
        let (out, images) = extract_latex(&s, false);
        prop_assert_eq!(images.len(), expected.len());
        // rebuild the text around each expected match and compare
        let mut rebuilt = String::new();
        let mut last = 0;
        for ((start, end), image) in expected.iter().zip(&images) {
            rebuilt.push_str(&s[last..*start]);
            rebuilt.push_str(&format!(
                "<img class=latex alt=\"{}\" src=\"{}\">",
                htmlescape::encode_attribute(&image.latex),
                image.file_name
            ));
            last = *end;
        }
        rebuilt.push_str(&s[last..]);
        prop_assert_eq!(out, rebuilt);
    }
}

fn render(nt: &Notetype, fields: &[String], limits: Limits) -> Result<usize, RenderError> {
    let note = Note { fields, tags: &[] };
    let options = RenderOptions {
        limits,
        ..Default::default()
    };
    render_card(nt, &note, &card(0), &options).map(|r| r.question.len() + r.answer.len())
}

const MB: usize = 1 << 20;

#[test]
fn megabyte_fields_through_every_filter() {
    let chunks = [
        "<style><b>x</b>",
        "{{c1::a::b}}",
        "{{c1::",
        "[sound:",
        "[anki:tts lang=",
        "[latex][$]x[/$]",
        "漢字[かんじ] ",
        "\\(<b>",
        "&amp;&",
        "<!--<a>",
    ];
    for chunk in chunks {
        let field = chunk.repeat(MB / chunk.len());
        let fields = vec![field, String::new()];
        for filter in [
            "",
            "text:",
            "hint:",
            "cloze:",
            "cloze-only:",
            "furigana:",
            "kana:",
            "kanji:",
            "tts en_US:",
            "type:",
        ] {
            // the note type's kind only matters to the cloze filters
            let kinds: &[NotetypeKind] = if filter.starts_with("cloze") {
                &[NotetypeKind::Normal, NotetypeKind::Cloze]
            } else {
                &[NotetypeKind::Normal]
            };
            for &kind in kinds {
                let nt = notetype(kind, &format!("{{{{{filter}F}}}}"), "{{FrontSide}}{{F}}");
                let result = render(&nt, &fields, Limits::default());
                assert!(
                    matches!(result, Ok(_) | Err(RenderError::OutputTooLarge { .. })),
                    "{chunk:?} through {filter:?}: {result:?}"
                );
            }
        }
    }
}

#[test]
fn deep_and_unbalanced_templates() {
    let fields = vec!["x".to_string(), String::new()];
    let n = 100_000;
    let deep = "{{#F}}{{^G}}".repeat(n) + "{{F}}" + &"{{/G}}{{/F}}".repeat(n);
    let unbalanced = "{{#F}}".repeat(n) + &"{{/G}}".repeat(n);
    let unclosed = "{{".repeat(MB / 2);
    let comments = "<!--{{".repeat(MB / 6);
    for qfmt in [deep, unbalanced, unclosed, comments] {
        let nt = notetype(NotetypeKind::Normal, &qfmt, "{{FrontSide}}");
        assert!(render(&nt, &fields, Limits::default()).is_ok());
        let note = Note {
            fields: &fields,
            tags: &[],
        };
        let _ = ordinals_to_add(&nt, &note, &BTreeSet::new());
    }
}

#[test]
fn output_and_work_are_capped() {
    let field = "x".repeat(MB);
    let fields = vec![field, String::new()];
    // 10,000 copies of a 1 MB field would be 10 GB of HTML
    let nt = notetype(NotetypeKind::Normal, &"{{F}}".repeat(10_000), "");
    assert_eq!(
        render(&nt, &fields, Limits::default()),
        Err(RenderError::OutputTooLarge { limit: 64 << 20 })
    );
    // a filter that outputs nothing still reads its input every time
    let nt = notetype(NotetypeKind::Normal, &"{{cloze:F}}".repeat(10_000), "");
    assert_eq!(
        render(&nt, &fields, Limits::default()),
        Err(RenderError::TooMuchWork { limit: 256 << 20 })
    );
}
