//! Cards rendered as Anki's `card.question()` / `card.answer()` show them, through
//! `javumbo-templates`.
//!
//! [`CardRendering::question`] / [`CardRendering::answer`] are Anki's HTML without the leading
//! `<style>{css}</style>`: `<style>{css}</style>{question}` is byte for byte `card.question()`.
//! Audio is as in `question()`: each `[sound:…]`/`[anki:tts]` tag became `[anki:play:q:N]`
//! (`a` on the answer side) and is listed in `question_av`/`answer_av` for the client's player;
//! images (`<img src="name">`) keep the bare media file names Anki writes.

use std::collections::HashMap;

use javumbo_templates as tmpl;
use serde::Serialize;

use crate::notes::FIELD_SEP;
use crate::notetypes::{NoteType, parse_all};
use crate::storage::cards::Card;
use crate::{ColJson, Collection, CollectionError, Result, storage};

/// An audio item of one side, in play order (`[anki:play:q:N]` plays `question_av[N]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AvItem {
    /// `[sound:file]`: a media file name.
    Sound { filename: String },
    /// `[anki:tts …]text[/anki:tts]`: text to speak.
    Tts {
        text: String,
        lang: String,
        voices: Vec<String>,
        speed: f32,
    },
}

impl From<tmpl::AvTag> for AvItem {
    fn from(t: tmpl::AvTag) -> Self {
        match t {
            tmpl::AvTag::SoundOrVideo(filename) => Self::Sound { filename },
            tmpl::AvTag::Tts {
                field_text,
                lang,
                voices,
                speed,
                ..
            } => Self::Tts {
                text: field_text,
                lang,
                voices,
                speed,
            },
        }
    }
}

/// How the card rendered, as the student sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderState {
    Ok,
    /// Anki's empty card ("The front of this card is blank." / "No cloze N found on card.").
    Empty,
    /// A template error, shown as both sides (Anki's message).
    Error,
}

/// One card, rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardRendering {
    pub question: String,
    pub answer: String,
    /// The note type's CSS (empty on a template error, as in Anki).
    pub css: String,
    pub question_av: Vec<AvItem>,
    pub answer_av: Vec<AvItem>,
    pub notetype_id: i64,
    pub notetype_name: String,
    pub state: RenderState,
}

/// Everything rendering needs that is shared by the cards of one request: note types and deck
/// names, parsed once.
pub(crate) struct Renderer {
    notetypes: HashMap<i64, (NoteType, tmpl::Notetype)>,
    decks: HashMap<i64, String>,
}

impl Renderer {
    pub(crate) fn load(col: &Collection) -> Result<Self> {
        let notetypes = parse_all(&*col.read_json_shared(ColJson::Models)?)
            .into_iter()
            .map(|nt| {
                let r = nt.for_rendering();
                (nt.id, (nt, r))
            })
            .collect();
        let decks = col
            .deck_rows()?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        Ok(Self { notetypes, decks })
    }

    /// Render `card` of a note of type `mid` with fields `flds` and tags `tags` (as stored).
    pub(crate) fn render(
        &self,
        card: &Card,
        mid: i64,
        flds: &str,
        tags: &str,
        browser: bool,
    ) -> Result<CardRendering> {
        let (nt, rt) = self.notetypes.get(&mid).ok_or_else(|| {
            CollectionError::corrupt(format!("card {} has no note type {mid}", card.id))
        })?;
        let fields: Vec<String> = flds.split(FIELD_SEP).map(str::to_string).collect();
        let tags: Vec<String> = tags.split_whitespace().map(str::to_string).collect();
        let note = tmpl::Note {
            fields: &fields,
            tags: &tags,
        };
        let deck = self.decks.get(&card.home_deck_id()).map(String::as_str);
        let tcard = tmpl::Card {
            // Ordinals beyond u16 cannot come from Anki; render them as a missing template.
            ord: u16::try_from(card.ord).unwrap_or(u16::MAX),
            id: card.id,
            deck,
            // Anki keeps the flag in the low bits of a byte-sized column.
            flags: (card.flags & 0xff) as u8,
        };
        let options = tmpl::RenderOptions {
            browser,
            ..Default::default()
        };
        let out = match tmpl::render_card(rt, &note, &tcard, &options) {
            Ok(out) => out,
            // Too large, too much work, no template for this ordinal: the card shows why rather
            // than failing the whole request (a study session must go on).
            Err(e) => {
                let message = format!(
                    "<div class=\"javumbo-render-error\">{}</div>",
                    escape(&e.to_string())
                );
                return Ok(CardRendering {
                    question: message.clone(),
                    answer: message,
                    css: String::new(),
                    question_av: vec![],
                    answer_av: vec![],
                    notetype_id: nt.id,
                    notetype_name: nt.name.clone(),
                    state: RenderState::Error,
                });
            }
        };
        Ok(CardRendering {
            state: match out.status {
                tmpl::RenderStatus::Rendered => RenderState::Ok,
                tmpl::RenderStatus::Empty => RenderState::Empty,
                tmpl::RenderStatus::TemplateError { .. } => RenderState::Error,
            },
            question: out.question,
            answer: out.answer,
            css: out.css,
            question_av: out.question_av_tags.into_iter().map(AvItem::from).collect(),
            answer_av: out.answer_av_tags.into_iter().map(AvItem::from).collect(),
            notetype_id: nt.id,
            notetype_name: nt.name.clone(),
        })
    }

    /// Render a card read from the table.
    pub(crate) fn render_card(
        &self,
        col: &Collection,
        card: &Card,
        browser: bool,
    ) -> Result<CardRendering> {
        let note = storage::notes::get(col.conn(), card.note_id)?.ok_or_else(|| {
            CollectionError::corrupt(format!("card {} has no note {}", card.id, card.note_id))
        })?;
        self.render(card, note.mid, &note.flds, &note.tags, browser)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Collection {
    /// Card `id` as Anki's reviewer shows it (`browser`: as Anki's card browser shows it,
    /// `question(browser=True)`).
    pub fn render_card(&self, id: i64, browser: bool) -> Result<CardRendering> {
        let card = storage::cards::get(self.conn(), id)?
            .ok_or_else(|| CollectionError::NotFound(format!("card {id} not found")))?;
        Renderer::load(self)?.render_card(self, &card, browser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::NewNote;
    use crate::testutil::empty;

    #[test]
    fn cloze_cards_render_as_anki() {
        let (col, _) = empty();
        let cloze = col
            .note_types()
            .unwrap()
            .into_iter()
            .find(|n| n.name == "Cloze")
            .unwrap();
        let added = col
            .add_note(&NewNote {
                notetype_id: Some(cloze.id),
                fields: vec!["{{c1::Paris::city}} [sound:p.mp3]".into(), "extra".into()],
                ..Default::default()
            })
            .unwrap();
        let r = col.render_card(added.card_ids[0], false).unwrap();
        // Anki 26.9.3's card.question() / card.answer() for this note, without the <style>.
        assert_eq!(
            r.question,
            "<span class=\"cloze\" data-cloze=\"Paris\" data-ordinal=\"1\">[city]</span> [anki:play:q:0]"
        );
        assert_eq!(
            r.answer,
            "<span class=\"cloze\" data-ordinal=\"1\">Paris</span> [anki:play:a:0]<br>\nextra"
        );
        assert_eq!(r.css, cloze.css);
        assert_eq!(r.state, RenderState::Ok);
        assert_eq!(
            r.question_av,
            [AvItem::Sound {
                filename: "p.mp3".into()
            }]
        );
    }
}
