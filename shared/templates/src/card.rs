//! Rendering one card the way Anki's `card.question()` / `card.answer()` show it: the Rust
//! template render (`rslib/src/template.rs::render_card`, `notetype/render.rs`), then the Python
//! steps (`pylib/anki/template.py`: FrontSide, audio tags; `pylib/anki/latex.py`: LaTeX).

use std::collections::{HashMap, HashSet};

use crate::av::{AvTag, extract_av_tags};
use crate::cloze::cloze_numbers_in_fields;
use crate::error::{RenderError, TemplateError, TemplateSide};
use crate::html::field_is_empty;
use crate::i18n;
use crate::latex::{LatexImage, extract_latex};
use crate::template::{Budget, Failure, RenderContext, Template};

/// `notetypes.type` / the schema-11 model's `type`: 0 normal, 1 cloze.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotetypeKind {
    Normal,
    Cloze,
}

/// One card type of a note type (schema-11 `tmpls[i]`, in `ord` order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardTemplate {
    pub name: String,
    /// Question template (`qfmt`).
    pub qfmt: String,
    /// Answer template (`afmt`).
    pub afmt: String,
    /// Browser question template (`bqfmt`); empty means `qfmt`.
    pub bqfmt: String,
    /// Browser answer template (`bafmt`); empty means `afmt`.
    pub bafmt: String,
}

/// What rendering needs of a note type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notetype {
    pub name: String,
    pub kind: NotetypeKind,
    /// Field names in `ord` order.
    pub fields: Vec<String>,
    /// Card types in `ord` order (a cloze type uses only the first).
    pub templates: Vec<CardTemplate>,
    pub css: String,
    /// `latexsvg`: LaTeX images are `.svg` rather than `.png`.
    pub latex_svg: bool,
}

/// A note's content: field values in the note type's field order, and its tags.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    pub fields: &'a [String],
    pub tags: &'a [String],
}

/// The card being rendered.
#[derive(Debug, Clone, Copy)]
pub struct Card<'a> {
    /// `cards.ord`: the template index (normal) or cloze number − 1 (cloze).
    pub ord: u16,
    /// `cards.id`, shown by `{{CardID}}` (0 for a card not yet added).
    pub id: i64,
    /// Full name (`Parent::Child`) of the card's home deck: the original deck when the card is
    /// in a filtered deck. `None` if the deck does not exist (Anki shows "(Deck)").
    pub deck: Option<&'a str>,
    /// `cards.flags` as stored, shown by `{{CardFlag}}` as `flag<n>`.
    pub flags: u8,
}

/// What to do with `[sound:…]` and `[anki:tts]` tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AvTagMode {
    /// As Anki's `question()`/`answer()`: replace them by `[anki:play:q|a:N]` and list them in
    /// [`RenderedCard::question_av_tags`] / [`RenderedCard::answer_av_tags`].
    #[default]
    PlayTags,
    /// Leave them in the HTML untouched (and lists empty); `{{FrontSide}}` then repeats the
    /// question's tags as written.
    Keep,
}

/// Bounds on one render: any template on any note finishes in bounded time and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest question or answer (HTML bytes) before [`RenderError::OutputTooLarge`].
    pub max_output_bytes: usize,
    /// Most field text filters may read in one render before [`RenderError::TooMuchWork`].
    pub max_work_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_output_bytes: 64 << 20,
            max_work_bytes: 256 << 20,
        }
    }
}

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Render for Anki's card browser (`question(browser=True)`): the browser templates when set,
    /// no "front is blank" message on normal cards, no LaTeX, the error headers say "Browser-
    /// specific".
    pub browser: bool,
    pub av_tags: AvTagMode,
    /// Replace LaTeX blocks by image links as Anki's `question()` does (see [`LatexImage`]).
    pub latex: bool,
    pub limits: Limits,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            browser: false,
            av_tags: AvTagMode::PlayTags,
            latex: true,
            limits: Limits::default(),
        }
    }
}

/// How the render went, as the student would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderStatus {
    Rendered,
    /// Anki's "empty card": the question renders no field ("The front of this card is blank.")
    /// or a cloze card's number is no longer in the note ("No cloze N found on card."). The
    /// message is in the question (after whatever the template rendered) and is the whole answer.
    Empty,
    /// A template error, shown as the whole question and answer (with empty CSS).
    TemplateError {
        side: TemplateSide,
        error: TemplateError,
    },
}

/// A rendered card.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedCard {
    /// Anki's `TemplateRenderOutput.question_text`.
    pub question: String,
    /// Anki's `TemplateRenderOutput.answer_text`.
    pub answer: String,
    pub question_av_tags: Vec<AvTag>,
    pub answer_av_tags: Vec<AvTag>,
    /// LaTeX images referenced by either side, question first.
    pub latex_images: Vec<LatexImage>,
    /// The note type's CSS, or empty on a template error (as Anki's output has it).
    pub css: String,
    pub status: RenderStatus,
}

impl RenderedCard {
    /// Exactly Anki's `card.question()`: `<style>{css}</style>{question}`.
    pub fn question_with_style(&self) -> String {
        format!("<style>{}</style>{}", self.css, self.question)
    }

    /// Exactly Anki's `card.answer()`: `<style>{css}</style>{answer}`.
    pub fn answer_with_style(&self) -> String {
        format!("<style>{}</style>{}", self.css, self.answer)
    }
}

/// The fields a template sees: note fields by name, then the special fields where no note field
/// has their name, then `c<ord+1>` = "1" (so `{{#c2}}` is true on the second card).
fn field_map<'a>(
    nt: &'a Notetype,
    note: &Note<'a>,
    template: &'a CardTemplate,
    specials: &'a Specials,
) -> HashMap<&'a str, &'a str> {
    let mut map: HashMap<&str, &str> = HashMap::new();
    for (i, value) in note.fields.iter().enumerate() {
        // Extra note fields all go under the empty name, the last one winning, as in Anki.
        map.insert(nt.fields.get(i).map_or("", String::as_str), value);
    }
    for (name, value) in [
        ("Tags", specials.tags.as_str()),
        ("Type", nt.name.as_str()),
        ("Subdeck", specials.subdeck.as_str()),
        ("Deck", specials.deck.as_str()),
        ("CardFlag", specials.flag.as_str()),
        ("Card", template.name.as_str()),
        ("CardID", specials.card_id.as_str()),
    ] {
        map.entry(name).or_insert(value);
    }
    map.entry(specials.card_number.as_str()).or_insert("1");
    map
}

struct Specials {
    tags: String,
    deck: String,
    subdeck: String,
    flag: String,
    card_id: String,
    card_number: String,
}

impl Specials {
    fn new(note: &Note<'_>, card: &Card<'_>) -> Self {
        let deck = card.deck.unwrap_or("(Deck)").to_string();
        let subdeck = deck.rsplit("::").next().unwrap_or_default().to_string();
        Self {
            tags: note.tags.join(" "),
            deck,
            subdeck,
            flag: format!("flag{}", card.flags),
            card_id: card.id.to_string(),
            // Anki adds in u16 without overflow checks.
            card_number: format!("c{}", card.ord.wrapping_add(1)),
        }
    }
}

fn error_card(error: TemplateError, side: TemplateSide, browser: bool) -> RenderedCard {
    let html = error.to_card_html(side, browser);
    RenderedCard {
        question: html.clone(),
        answer: html,
        question_av_tags: vec![],
        answer_av_tags: vec![],
        latex_images: vec![],
        css: String::new(),
        status: RenderStatus::TemplateError { side, error },
    }
}

fn or_default<'a>(browser_fmt: &'a str, fmt: &'a str) -> &'a str {
    if browser_fmt.is_empty() {
        fmt
    } else {
        browser_fmt
    }
}

/// Render one side's template; a template error becomes the error card.
fn render_side(
    fmt: &str,
    ctx: &RenderContext<'_>,
    budget: &mut Budget,
) -> Result<Result<(String, Template), TemplateError>, RenderError> {
    let template = match Template::parse(fmt) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    match template.render(ctx, budget) {
        Ok(text) => Ok(Ok((text, template))),
        Err(Failure::Template(e)) => Ok(Err(e)),
        Err(Failure::Limit(e)) => Err(e),
    }
}

/// Render a card of a note as Anki 26.9.3 shows it in `card.question()` / `card.answer()`
/// (with the default options; see [`RenderOptions`] for the browser and for keeping audio tags).
pub fn render_card(
    nt: &Notetype,
    note: &Note<'_>,
    card: &Card<'_>,
    options: &RenderOptions,
) -> Result<RenderedCard, RenderError> {
    let is_cloze = nt.kind == NotetypeKind::Cloze;
    let template = if is_cloze {
        nt.templates.first()
    } else {
        nt.templates.get(usize::from(card.ord))
    }
    .ok_or(RenderError::MissingTemplate(card.ord))?;
    let (qfmt, afmt) = if options.browser {
        (
            or_default(&template.bqfmt, &template.qfmt),
            or_default(&template.bafmt, &template.afmt),
        )
    } else {
        (template.qfmt.as_str(), template.afmt.as_str())
    };

    let specials = Specials::new(note, card);
    let fields = field_map(nt, note, template, &specials);
    let nonempty: HashSet<&str> = fields
        .iter()
        .filter(|(_, v)| !field_is_empty(v))
        .map(|(k, _)| *k)
        .collect();
    let mut budget = Budget {
        max_output: options.limits.max_output_bytes,
        work_left: options.limits.max_work_bytes,
        max_work: options.limits.max_work_bytes,
    };

    let mut ctx = RenderContext {
        fields: &fields,
        nonempty_fields: &nonempty,
        card_ord: card.ord,
        question_side: true,
        frontside: "",
    };
    let (question, qtemplate) = match render_side(qfmt, &ctx, &mut budget)? {
        Ok(ok) => ok,
        Err(e) => return Ok(error_card(e, TemplateSide::Question, options.browser)),
    };

    let empty_message = if is_cloze {
        budget.spend(fields.values().map(|v| v.len()).sum())?;
        let numbers = cloze_numbers_in_fields(fields.values());
        let number = card.ord.wrapping_add(1);
        (!numbers.contains(&number)).then(|| {
            format!(
                "<div>{}<br><a href='{}'>{}</a></div>",
                i18n::missing_cloze(u32::from(number)),
                i18n::TEMPLATE_BLANK_CLOZE_LINK,
                i18n::MORE_INFO
            )
        })
    } else if !options.browser && !qtemplate.renders_with_fields(&nonempty) {
        Some(format!(
            "<div>{}<br><a href='{}'>{}</a></div>",
            i18n::EMPTY_FRONT,
            i18n::TEMPLATE_BLANK_LINK,
            i18n::MORE_INFO
        ))
    } else {
        None
    };

    let av = |text: &str, question_side: bool| match options.av_tags {
        AvTagMode::PlayTags => extract_av_tags(text, question_side),
        AvTagMode::Keep => (text.to_string(), vec![]),
    };
    let (question, question_av_tags, answer, answer_av_tags, status) = match empty_message {
        Some(message) => {
            let mut q = question;
            budget.push(&mut q, &message)?;
            let (q, qtags) = av(&q, true);
            let (a, atags) = av(&message, false);
            (q, qtags, a, atags, RenderStatus::Empty)
        }
        None => {
            let (q, qtags) = av(&question, true);
            budget.check_len(q.len())?;
            // The answer's {{FrontSide}} is the question as the student saw it, tags replaced.
            ctx.question_side = false;
            ctx.frontside = &q;
            let answer = match render_side(afmt, &ctx, &mut budget)? {
                Ok((text, _)) => text,
                Err(e) => return Ok(error_card(e, TemplateSide::Answer, options.browser)),
            };
            let (a, atags) = av(&answer, false);
            (q, qtags, a, atags, RenderStatus::Rendered)
        }
    };
    budget.check_len(answer.len())?;

    let (question, answer, latex_images) = if options.latex && !options.browser {
        let (q, mut images) = extract_latex(&question, nt.latex_svg);
        let (a, aimages) = extract_latex(&answer, nt.latex_svg);
        images.extend(aimages);
        budget.check_len(q.len().max(a.len()))?;
        (q, a, images)
    } else {
        (question, answer, vec![])
    };

    Ok(RenderedCard {
        question,
        answer,
        question_av_tags,
        answer_av_tags,
        latex_images,
        css: nt.css.clone(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nt(kind: NotetypeKind, qfmt: &str, afmt: &str) -> Notetype {
        Notetype {
            name: "T6".into(),
            kind,
            fields: vec!["Front".into(), "Back".into()],
            templates: vec![CardTemplate {
                name: "Card 1".into(),
                qfmt: qfmt.into(),
                afmt: afmt.into(),
                ..Default::default()
            }],
            css: ".x{}".into(),
            latex_svg: false,
        }
    }

    fn render(nt: &Notetype, fields: &[&str], ord: u16, deck: Option<&str>) -> RenderedCard {
        let fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        let note = Note {
            fields: &fields,
            tags: &[],
        };
        let card = Card {
            ord,
            id: 1796459245517,
            deck,
            flags: 0,
        };
        render_card(nt, &note, &card, &RenderOptions::default()).unwrap()
    }

    // Expected strings below are the official anki 26.9.3 package's output.

    #[test]
    fn special_fields_and_filters() {
        let t = nt(
            NotetypeKind::Normal,
            "{{hint:Front}} {{tts en_US voices=Apple_Alex speed=1.2:Front}} {{tts-voices:}} {{Tags}} {{Type}} {{Deck}} {{Subdeck}} {{Card}} {{CardFlag}} {{CardID}} {{c1}} {{#c2}}C2{{/c2}}{{^c1}}notc1{{/c1}}",
            "{{FrontSide}} {{type:Back}} {{type:cloze:Back}} {{cloze:Back}}",
        );
        let out = render(&t, &["<b>a</b>", "b {{c1::x::h}}"], 0, Some("Default"));
        let q = "\n<a class=hint href=\"#\"\nonclick=\"this.style.display='none';\ndocument.getElementById('hinte91d4288fffb5413').style.display='block';\nreturn false;\" draggable=false>\nFront</a>\n<div id=\"hinte91d4288fffb5413\" class=hint style=\"display: none\"><b>a</b></div>\n [anki:play:q:0]   T6 Default Default Card 1 flag0 1796459245517 1 ";
        assert_eq!(
            out.question_with_style(),
            format!("<style>.x{{}}</style>{q}")
        );
        assert_eq!(
            out.answer,
            format!(
                "{q} [[type:Back]] [[type:cloze:Back]] b <span class=\"cloze\" data-ordinal=\"1\">x</span>"
            )
        );
        assert_eq!(out.status, RenderStatus::Rendered);
    }

    #[test]
    fn template_errors_show_on_both_sides_without_css() {
        let t = nt(NotetypeKind::Normal, "{{Front}} {{Nope}}", "{{Back}}");
        let out = render(&t, &["a", "b"], 0, Some("Default"));
        let expected = "<style></style>Front template has a problem:<br>Found &#x27;\u{2068}{{Nope}}\u{2069}&#x27;, but there is no field called &#x27;\u{2068}Nope\u{2069}&#x27;<br><a href='https://docs.ankiweb.net/templates/errors.html#template-syntax-error'>More information</a>";
        assert_eq!(out.question_with_style(), expected);
        assert_eq!(out.answer_with_style(), expected);
        let t = nt(NotetypeKind::Normal, "{{Front}}", "{{Back}}{{/Front}}");
        let out = render(&t, &["a", "b"], 0, Some("Default"));
        assert_eq!(
            out.question,
            "Back template has a problem:<br>Found &#x27;\u{2068}{{/Front}}\u{2069}&#x27;, but missing &#x27;\u{2068}{{#Front}}\u{2069}&#x27; or &#x27;\u{2068}{{^Front}}\u{2069}&#x27;<br><a href='https://docs.ankiweb.net/templates/errors.html#template-syntax-error'>More information</a>"
        );
    }

    #[test]
    fn empty_cards() {
        let t = nt(NotetypeKind::Normal, "{{text:Front}}", "{{Back}}");
        let out = render(&t, &["", "b"], 0, Some("Default"));
        let blank = "<div>The front of this card is blank.<br><a href='https://docs.ankiweb.net/templates/errors.html#front-of-card-is-blank'>More information</a></div>";
        assert_eq!((out.question.as_str(), out.answer.as_str()), (blank, blank));
        assert_eq!(out.status, RenderStatus::Empty);

        let t = nt(NotetypeKind::Cloze, "{{cloze:Front}}", "{{cloze:Front}}");
        let out = render(&t, &["{{c1::x}}", ""], 12344, None);
        assert_eq!(
            out.question,
            "<div>No cloze \u{2068}12345\u{2069} found on card.\nPlease either add a cloze deletion, or use the Empty Cards tool.<br><a href='https://docs.ankiweb.net/templates/errors.html#no-cloze-filter-on-cloze-note-type'>More information</a></div>"
        );
    }

    #[test]
    fn missing_deck_and_field_precedence() {
        let mut t = nt(NotetypeKind::Normal, "{{Front}}|{{Deck}}|{{Subdeck}}", "");
        let out = render(&t, &["f", ""], 0, None);
        assert_eq!(out.question, "f|(Deck)|(Deck)");
        // a note field named like a special field wins
        t.fields[1] = "Deck".into();
        let out = render(&t, &["f", "mine"], 0, Some("A::B"));
        assert_eq!(out.question, "f|mine|B");
    }

    #[test]
    fn keeping_audio_tags() {
        let t = nt(NotetypeKind::Normal, "{{Front}}", "{{FrontSide}}|{{Back}}");
        let fields = vec!["[sound:a.mp3]".to_string(), "[sound:b.mp3]".to_string()];
        let note = Note {
            fields: &fields,
            tags: &[],
        };
        let card = Card {
            ord: 0,
            id: 1,
            deck: None,
            flags: 0,
        };
        let options = RenderOptions {
            av_tags: AvTagMode::Keep,
            ..Default::default()
        };
        let out = render_card(&t, &note, &card, &options).unwrap();
        assert_eq!(out.answer, "[sound:a.mp3]|[sound:b.mp3]");
        assert!(out.answer_av_tags.is_empty());
        let out = render_card(&t, &note, &card, &RenderOptions::default()).unwrap();
        assert_eq!(out.answer, "[anki:play:q:0]|[anki:play:a:0]");
        assert_eq!(
            render_card(
                &t,
                &note,
                &Card { ord: 1, ..card },
                &RenderOptions::default()
            ),
            Err(RenderError::MissingTemplate(1))
        );
    }
}
