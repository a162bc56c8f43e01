//! Anki's card template language, rendered exactly as Anki 26.9.3 renders it, as pure functions
//! (no SQL, no I/O, no async).
//!
//! * [`render_card`]: a card's question and answer HTML, byte for byte what Anki's
//!   `card.question()` / `card.answer()` return once wrapped by
//!   [`RenderedCard::question_with_style`] / [`RenderedCard::answer_with_style`]
//!   (`<style>{css}</style>{html}`). That covers `{{Field}}`, `{{FrontSide}}`, sections
//!   `{{#F}}…{{/F}}` / `{{^F}}…{{/F}}`, `{{=<% %>=}}`, comments, the filters (`text`, `hint`,
//!   `cloze`, `cloze-only`, `type`, `furigana`, `kana`, `kanji`, `tts`), the special fields
//!   (`Tags`, `Type`, `Deck`, `Subdeck`, `Card`, `CardFlag`, `CardID`), Anki's error and
//!   empty-card messages, audio tags and LaTeX.
//! * [`ordinals_to_add`] / [`nonempty_ordinals`]: which cards a note has (Anki's card generation
//!   and its "empty cards").
//! * Building blocks a client may want on its own: [`Template`], [`extract_av_tags`],
//!   [`extract_latex`], [`cloze_numbers_in_str`], [`extract_cloze_for_typing`],
//!   [`strip_html`], [`field_is_empty`].
//!
//! ```
//! use javumbo_templates::*;
//!
//! let basic = Notetype {
//!     name: "Basic".into(),
//!     kind: NotetypeKind::Normal,
//!     fields: vec!["Front".into(), "Back".into()],
//!     templates: vec![CardTemplate {
//!         name: "Card 1".into(),
//!         qfmt: "{{Front}}".into(),
//!         afmt: "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}".into(),
//!         ..Default::default()
//!     }],
//!     css: ".card { color: black; }".into(),
//!     latex_svg: false,
//! };
//! let fields = vec!["hello [sound:hi.mp3]".to_string(), "world".to_string()];
//! let note = Note { fields: &fields, tags: &[] };
//!
//! // A new note gets the cards Anki would create for it.
//! assert_eq!(ordinals_to_add(&basic, &note, &Default::default()), vec![0]);
//!
//! let card = Card { ord: 0, id: 1700000000000, deck: Some("Default"), flags: 0 };
//! let out = render_card(&basic, &note, &card, &RenderOptions::default()).unwrap();
//! assert_eq!(out.question_with_style(), "<style>.card { color: black; }</style>hello [anki:play:q:0]");
//! assert_eq!(out.answer, "hello [anki:play:q:0]\n\n<hr id=answer>\n\nworld");
//! assert_eq!(out.question_av_tags, vec![AvTag::SoundOrVideo("hi.mp3".into())]);
//! ```
//!
//! # What Anki does around the HTML, and what is left to the caller
//!
//! * **Audio.** `question()` replaces every `[sound:f]` and valid `[anki:tts …]…[/anki:tts]` by
//!   `[anki:play:q:N]` (`a` on the answer side; N from 0 per side) and hands the list to its
//!   player; the answer's `{{FrontSide}}` holds the question *after* that replacement, so the
//!   question's tags appear there as `[anki:play:q:N]`. [`AvTagMode::PlayTags`] (the default)
//!   does the same and returns the lists; [`AvTagMode::Keep`] leaves the tags in place.
//! * **Images and other media** (`<img src="f">`, `<audio>`, `<object data>`): `question()` leaves
//!   them exactly as written, relative file names included; Anki's desktop reviewer (not
//!   `question()`) later resolves them against the media folder. This crate does the same: the
//!   caller rewrites or serves those URLs.
//! * **Type in the answer**: `{{type:F}}` renders as the literal `[[type:F]]`
//!   (`[[type:cloze:F]]`, `[[type:nc:F]]`) on both sides, as in `question()`; Anki's reviewer
//!   replaces it by an input box (question) or a comparison with the typed text (answer).
//!   [`extract_cloze_for_typing`] gives the expected text of `type:cloze`.
//! * **LaTeX**: blocks become `<img class=latex … src="latex-<sha1>.png">` (see [`LatexImage`]);
//!   Anki would additionally compile missing images with a local LaTeX install and append its
//!   errors to the card. That compilation is not done here.
//! * **Add-ons**: unknown filters behave as in Anki without add-ons (the chain stops, text kept).
//!
//! # Card generation for an integrator
//!
//! On adding a note, create the cards `ordinals_to_add(nt, note, &[])` (never empty). After a
//! note's fields change, create `ordinals_to_add(nt, note, &existing_ordinals)` and delete
//! nothing: Anki keeps cards whose content went away, and renders them with its "front is
//! blank" / "No cloze N" message ([`RenderStatus::Empty`]) until Empty Cards removes them
//! (`existing − nonempty_ordinals`). Changing a note type's templates calls for the same
//! `ordinals_to_add` over all its notes.

mod av;
mod card;
mod cardgen;
mod cloze;
mod error;
mod filters;
mod html;
mod i18n;
mod image_occlusion;
mod latex;
mod template;

pub use av::{AvTag, extract_av_tags};
pub use card::{
    AvTagMode, Card, CardTemplate, Limits, Note, Notetype, NotetypeKind, RenderOptions,
    RenderStatus, RenderedCard, render_card,
};
pub use cardgen::{nonempty_ordinals, ordinals_to_add};
pub use cloze::{
    cloze_numbers_in_fields, cloze_numbers_in_str, extract_cloze_for_typing, reveal_cloze_text,
};
pub use error::{RenderError, TemplateError, TemplateSide};
pub use html::{decode_entities, field_is_empty, strip_html, strip_html_preserving_entities};
pub use latex::{LatexImage, extract_latex};
pub use template::Template;
