//! The JSON bodies the API answers with, one type per shape of `docs/openapi.yaml` (the
//! contract; the HTTP suite validates every response it sees against it). Field names are the
//! wire names, so a rename here is a visible change to clients: the `serde(rename_all)` and
//! `rename` attributes keep the historical mix of `camelCase` and `snake_case` keys.
//!
//! Built from the domain types by the handlers; nothing here knows of sessions or collections.

use serde::Serialize;

/// Every error: `{"error": "..."}` (built in one place, `ApiError`'s `IntoResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub error: String,
}

/// A body that is only a human-readable outcome: `{"message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub message: String,
}

impl Message {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// `{"success": true}`, with a message on the card routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Success {
    /// Always `true`: failures are errors with their own status.
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

impl Success {
    pub fn new() -> Self {
        Self {
            success: true,
            message: None,
        }
    }

    pub fn with_message(message: &'static str) -> Self {
        Self {
            success: true,
            message: Some(message),
        }
    }
}

impl Default for Success {
    fn default() -> Self {
        Self::new()
    }
}

/// A crud body with the session id repeated in it (the crud routes' contract; every collection
/// route also sends it as `X-Session-ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithSessionId<T> {
    #[serde(flatten)]
    pub body: T,
    pub session_id: String,
}

// ----------------------------------------------------------------------------------------------
// auth
// ----------------------------------------------------------------------------------------------

/// `POST /api/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginResponse {
    pub access_token: String,
    pub username: String,
    pub name: String,
}

/// `GET /api/health`: the username only with a valid token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

// ----------------------------------------------------------------------------------------------
// decks
// ----------------------------------------------------------------------------------------------

/// `GET /api/decks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeckList {
    pub decks: Vec<DeckEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeckEntry {
    pub id: i64,
    pub name: String,
    pub desc: String,
    /// Whether this is the current deck, so clients need not remember which one they chose.
    pub current: bool,
    /// A filtered deck (built on a device): no options, and deleting it sends its cards home.
    pub filtered: bool,
    /// Anki's deck-list numbers: new, learning and review cards due today within the deck's
    /// daily limits (subdecks included).
    #[serde(flatten)]
    pub counts: StudyCounts,
}

/// New, learning and review cards left today (`newCount`, `learnCount`, `reviewCount`): the
/// deck list's numbers and the study screen's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StudyCounts {
    pub new_count: i64,
    pub learn_count: i64,
    pub review_count: i64,
}

impl From<javumbo_collection::review::DueCounts> for StudyCounts {
    fn from(c: javumbo_collection::review::DueCounts) -> Self {
        Self {
            new_count: c.new,
            learn_count: c.learn,
            review_count: c.review,
        }
    }
}

/// `POST /api/decks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedDeck {
    pub id: i64,
    pub name: String,
}

/// `PUT /api/decks/{id}/rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenamedDeck {
    pub message: &'static str,
    pub id: i64,
    pub name: String,
}

/// `GET /api/decks/{id}/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeckStats {
    pub counts: Counts,
    pub total: i64,
}

/// Cards of a deck by state; the keys are capitalised, as Anki's own labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Counts {
    pub new: i64,
    pub learning: i64,
    pub relearning: i64,
    pub young: i64,
    pub mature: i64,
    pub suspended: i64,
    pub buried: i64,
}

/// `GET /api/decks/{id}/cards`: one page, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeckCards {
    pub deck_id: i64,
    pub deck_name: String,
    pub cards: Vec<CardSummary>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardSummary {
    pub card_id: i64,
    pub note_id: i64,
    pub front: String,
    pub back: String,
    /// Epoch seconds of the note's last edit.
    pub modified: i64,
    /// `cards.queue`: -1 suspended, -2 buried as a sibling, -3 buried by the student.
    pub queue: i64,
    /// As Anki's card browser renders the card (`question(browser=True)`).
    #[serde(flatten)]
    pub rendered: Rendered,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub total_pages: i64,
}

// ----------------------------------------------------------------------------------------------
// cards
// ----------------------------------------------------------------------------------------------

/// `POST /api/cards`: the ids in both spellings, because old clients read `card_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedCard {
    pub message: &'static str,
    pub card_id: i64,
    pub note_id: i64,
    #[serde(rename = "cardId")]
    pub card_id_camel: i64,
    #[serde(rename = "noteId")]
    pub note_id_camel: i64,
}

impl AddedCard {
    pub fn new(message: &'static str, card_id: i64, note_id: i64) -> Self {
        Self {
            message,
            card_id,
            note_id,
            card_id_camel: card_id,
            note_id_camel: note_id,
        }
    }
}

/// `GET /api/cards/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardDetail {
    pub card_id: i64,
    pub note_id: i64,
    pub deck_id: i64,
    pub front: String,
    pub back: String,
    pub queue: i64,
    /// As stored: a position (new), epoch seconds (learning) or a day number (review).
    pub due: i64,
    /// As Anki's reviewer renders the card.
    #[serde(flatten)]
    pub rendered: Rendered,
}

/// A card rendered as Anki renders it: `<style>{css}</style>{questionHtml}` is Anki's
/// `card.question()` byte for byte (and the same for the answer). Audio tags are replaced by
/// `[anki:play:q:N]` / `[anki:play:a:N]` as in `question()`; N indexes `questionAvTags` /
/// `answerAvTags`. Image sources are the bare media file names of the note.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rendered {
    pub question_html: String,
    pub answer_html: String,
    /// The note type's CSS (empty when the template has an error, as in Anki).
    pub css: String,
    pub question_av_tags: Vec<AvTag>,
    pub answer_av_tags: Vec<AvTag>,
    /// The note type's name.
    pub note_type: String,
    pub note_type_id: i64,
    /// `ok`, `empty` (Anki's empty-card message is shown) or `error` (a template error).
    pub render_status: &'static str,
}

impl From<javumbo_collection::render::CardRendering> for Rendered {
    fn from(r: javumbo_collection::render::CardRendering) -> Self {
        use javumbo_collection::render::RenderState;
        Self {
            question_html: r.question,
            answer_html: r.answer,
            css: r.css,
            question_av_tags: r.question_av.into_iter().map(AvTag::from).collect(),
            answer_av_tags: r.answer_av.into_iter().map(AvTag::from).collect(),
            note_type: r.notetype_name,
            note_type_id: r.notetype_id,
            render_status: match r.state {
                RenderState::Ok => "ok",
                RenderState::Empty => "empty",
                RenderState::Error => "error",
            },
        }
    }
}

/// One audio item of a card side: a media file, or text to speak.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AvTag {
    Sound {
        filename: String,
    },
    Tts {
        text: String,
        lang: String,
        voices: Vec<String>,
        speed: f32,
    },
}

impl From<javumbo_collection::render::AvItem> for AvTag {
    fn from(a: javumbo_collection::render::AvItem) -> Self {
        use javumbo_collection::render::AvItem;
        match a {
            AvItem::Sound { filename } => Self::Sound { filename },
            AvItem::Tts {
                text,
                lang,
                voices,
                speed,
            } => Self::Tts {
                text,
                lang,
                voices,
                speed,
            },
        }
    }
}

// ----------------------------------------------------------------------------------------------
// notes and note types
// ----------------------------------------------------------------------------------------------

/// `GET /api/notetypes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteTypeList {
    pub note_types: Vec<NoteTypeEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteTypeEntry {
    pub id: i64,
    pub name: String,
    /// `normal` (a card per template) or `cloze` (a card per cloze number).
    pub kind: &'static str,
    /// Field names, in order: a note's `fields` follow this order.
    pub fields: Vec<String>,
    /// Card type (template) names, in order.
    pub templates: Vec<String>,
    pub css: String,
    /// The note type new notes get when none is named (Basic).
    pub default: bool,
}

/// `POST /api/notes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddedNote {
    pub message: &'static str,
    pub note_id: i64,
    /// The cards Anki's card generation created, by ordinal.
    pub card_ids: Vec<i64>,
}

/// `GET /api/notes/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteDetail {
    pub note_id: i64,
    pub note_type_id: i64,
    pub note_type: String,
    pub fields: Vec<NoteFieldBody>,
    pub tags: Vec<String>,
    pub cards: Vec<NoteCardBody>,
    /// Epoch seconds of the last edit.
    pub modified: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteFieldBody {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteCardBody {
    pub card_id: i64,
    /// Template index (normal) or cloze number − 1 (cloze).
    pub ord: i64,
    pub deck_id: i64,
}

/// `PUT /api/notes/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatedNote {
    pub success: bool,
    pub message: &'static str,
    /// Cards the new content created (a new cloze number, a filled optional field).
    pub cards_added: Vec<i64>,
}

// ----------------------------------------------------------------------------------------------
// review
// ----------------------------------------------------------------------------------------------

/// `GET /api/review`: the card to study, or why there is none.
// Built once per request and serialised at once: boxing the card would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NextCard {
    Card(ReviewCard),
    Nothing(Message),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewCard {
    pub card_id: i64,
    pub note_id: i64,
    pub front: String,
    pub back: String,
    pub queue: i64,
    pub deck_id: i64,
    /// Button labels for Again, Hard, Good, Easy.
    pub intervals: [String; 4],
    /// The study screen's numbers (Anki's `get_queued_cards` counts): new, learning and
    /// review cards left today in the current deck, this card included.
    #[serde(flatten)]
    pub counts: StudyCounts,
    /// As Anki's reviewer renders the card.
    #[serde(flatten)]
    pub rendered: Rendered,
}

/// `POST /api/review`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answered {
    pub message: &'static str,
    /// Epoch seconds.
    pub new_due: i64,
    /// Days.
    pub interval: i64,
    pub queue: i64,
}

// ----------------------------------------------------------------------------------------------
// study settings, presets, card actions
// ----------------------------------------------------------------------------------------------

/// `GET`/`PUT /api/settings`: the student's day and the collection-wide FSRS switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StudySettings {
    /// IANA name; `null` for a collection that never had one (its stored offset applies).
    pub timezone: Option<String>,
    pub rollover_hour: u8,
    pub fsrs: bool,
    pub fsrs_short_term_with_steps: bool,
}

/// A preset (every v3 field, the engine's camelCase names) and the normal decks using it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetBody {
    #[serde(flatten)]
    pub preset: javumbo_collection::Preset,
    pub deck_ids: Vec<i64>,
}

/// `GET /api/presets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresetList {
    pub presets: Vec<PresetBody>,
}

/// `PUT /api/decks/{id}/preset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeckPreset {
    pub deck_id: i64,
    pub preset_id: i64,
}

/// `GET`/`PUT /api/decks/{id}/limits`: the deck's own limits (`null`: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeckLimitsBody {
    pub deck_id: i64,
    #[serde(flatten)]
    pub limits: javumbo_collection::DeckLimits,
}

/// `GET`/`POST /api/decks/{id}/custom-study`: the custom study dialog's defaults (the last
/// positive extensions, Anki's `extendNew`/`extendRev`) and the deck's due counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomStudy {
    pub deck_id: i64,
    pub extend_new: i64,
    pub extend_review: i64,
    #[serde(flatten)]
    pub counts: javumbo_collection::review::DueCounts,
    /// The tags a cram may include or exclude, marked as the deck's last cram chose them.
    pub tags: Vec<javumbo_collection::custom_study::StudyTag>,
    /// The "Custom Study Session" deck a session choice built (now the current deck).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<StudySession>,
}

/// `POST /api/decks/{id}/empty`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptiedDeck {
    pub deck_id: i64,
    /// Cards sent back to their home decks.
    pub returned: i64,
}

/// A custom study session deck built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StudySession {
    pub deck_id: i64,
    pub name: String,
    pub cards: i64,
}

/// `POST /api/presets/{id}/optimize`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptimizedBody {
    pub params: Vec<f32>,
    pub fsrs_items: usize,
    pub reviews: usize,
    pub applied: bool,
}

/// `POST /api/presets/{id}/recompute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recomputed {
    pub cards_updated: usize,
}

/// `POST /api/cards/{id}/actions`: the card's queue afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardActionDone {
    pub card_id: i64,
    pub queue: i64,
}

// ----------------------------------------------------------------------------------------------
// sessions, import
// ----------------------------------------------------------------------------------------------

/// `POST /api/import`: what the import really did (added, updated and skipped counts; the
/// original `notes`/`cards`/`revlog` keys are the added ones, as before).
pub type Imported = javumbo_apkg::ImportSummary;

#[cfg(test)]
mod tests {
    //! Each body against the `json!` value the handler built before the bodies were typed:
    //! same keys, same types, same values.

    use serde_json::{Value, json};

    use super::*;

    fn v(body: impl Serialize) -> Value {
        serde_json::to_value(body).expect("serialisable")
    }

    fn rendered() -> Rendered {
        Rendered {
            question_html: "q [anki:play:q:0]".into(),
            answer_html: "a".into(),
            css: ".card{}".into(),
            question_av_tags: vec![AvTag::Sound {
                filename: "x.mp3".into(),
            }],
            answer_av_tags: vec![AvTag::Tts {
                text: "hi".into(),
                lang: "en_US".into(),
                voices: vec![],
                speed: 1.0,
            }],
            note_type: "Basic".into(),
            note_type_id: 9,
            render_status: "ok",
        }
    }

    /// `rendered()` on the wire, merged into `base`.
    fn with_rendered(mut base: Value) -> Value {
        let extra = json!({
            "questionHtml": "q [anki:play:q:0]", "answerHtml": "a", "css": ".card{}",
            "questionAvTags": [{"kind": "sound", "filename": "x.mp3"}],
            "answerAvTags": [{"kind": "tts", "text": "hi", "lang": "en_US", "voices": [], "speed": 1.0}],
            "noteType": "Basic", "noteTypeId": 9, "renderStatus": "ok",
        });
        for (k, v) in extra.as_object().expect("object") {
            base[k] = v.clone();
        }
        base
    }

    fn sid<T>(body: T) -> WithSessionId<T> {
        WithSessionId {
            body,
            session_id: "s1".into(),
        }
    }

    #[test]
    fn small_bodies() {
        assert_eq!(
            v(ErrorBody {
                error: "nope".into()
            }),
            json!({"error": "nope"})
        );
        assert_eq!(v(Message::new("hi")), json!({"message": "hi"}));
        assert_eq!(v(Success::new()), json!({"success": true}));
        assert_eq!(
            v(sid(Success::with_message("done"))),
            json!({"success": true, "message": "done", "session_id": "s1"})
        );
        assert_eq!(
            v(Health {
                status: "ok",
                username: None
            }),
            json!({"status": "ok"})
        );
        assert_eq!(
            v(Health {
                status: "ok",
                username: Some("ana".into())
            }),
            json!({"status": "ok", "username": "ana"})
        );
        assert_eq!(
            v(LoginResponse {
                access_token: "t".into(),
                username: "ana".into(),
                name: "Ana".into()
            }),
            json!({"access_token": "t", "username": "ana", "name": "Ana"})
        );
    }

    #[test]
    fn deck_bodies() {
        assert_eq!(
            v(sid(DeckList {
                decks: vec![DeckEntry {
                    id: 1,
                    name: "D".into(),
                    desc: "".into(),
                    current: true,
                    filtered: false,
                    counts: StudyCounts {
                        new_count: 5,
                        learn_count: 1,
                        review_count: 7,
                    },
                }]
            })),
            json!({"decks": [{"id": 1, "name": "D", "desc": "", "current": true,
                "filtered": false, "newCount": 5, "learnCount": 1, "reviewCount": 7}], "session_id": "s1"})
        );
        assert_eq!(
            v(sid(CreatedDeck {
                id: 2,
                name: "N".into()
            })),
            json!({"id": 2, "name": "N", "session_id": "s1"})
        );
        assert_eq!(
            v(sid(RenamedDeck {
                message: "Deck renamed successfully",
                id: 2,
                name: "N".into()
            })),
            json!({"message": "Deck renamed successfully", "id": 2, "name": "N", "session_id": "s1"})
        );
        let counts = Counts {
            new: 1,
            learning: 2,
            relearning: 3,
            young: 4,
            mature: 5,
            suspended: 6,
            buried: 7,
        };
        assert_eq!(
            v(sid(DeckStats { counts, total: 28 })),
            json!({
                "counts": {"New": 1, "Learning": 2, "Relearning": 3, "Young": 4, "Mature": 5,
                           "Suspended": 6, "Buried": 7},
                "total": 28,
                "session_id": "s1",
            })
        );
        let page = DeckCards {
            deck_id: 3,
            deck_name: "D".into(),
            cards: vec![CardSummary {
                card_id: 10,
                note_id: 11,
                front: "f".into(),
                back: "b".into(),
                modified: 12,
                queue: -1,
                rendered: rendered(),
            }],
            pagination: Pagination {
                total: 1,
                page: 1,
                per_page: 10,
                total_pages: 1,
            },
        };
        assert_eq!(
            v(sid(page)),
            json!({
                "deckId": 3,
                "deckName": "D",
                "cards": [with_rendered(json!({"cardId": 10, "noteId": 11, "front": "f", "back": "b", "modified": 12, "queue": -1}))],
                "pagination": {"total": 1, "page": 1, "perPage": 10, "totalPages": 1},
                "session_id": "s1",
            })
        );
    }

    #[test]
    fn card_and_review_bodies() {
        assert_eq!(
            v(sid(AddedCard::new("Card added successfully", 5, 6))),
            json!({
                "message": "Card added successfully",
                "card_id": 5, "note_id": 6, "cardId": 5, "noteId": 6,
                "session_id": "s1",
            })
        );
        assert_eq!(
            v(sid(CardDetail {
                card_id: 5,
                note_id: 6,
                deck_id: 7,
                front: "f".into(),
                back: "b".into(),
                queue: 0,
                due: 8,
                rendered: rendered(),
            })),
            with_rendered(json!({
                "cardId": 5, "noteId": 6, "deckId": 7, "front": "f", "back": "b", "queue": 0,
                "due": 8, "session_id": "s1",
            }))
        );
        let intervals = ["1m", "6m", "10m", "4d"].map(String::from);
        assert_eq!(
            v(NextCard::Card(ReviewCard {
                card_id: 5,
                note_id: 6,
                front: "f".into(),
                back: "b".into(),
                queue: 0,
                deck_id: 7,
                intervals,
                counts: StudyCounts {
                    new_count: 1,
                    learn_count: 2,
                    review_count: 3,
                },
                rendered: rendered(),
            })),
            with_rendered(json!({
                "cardId": 5, "noteId": 6, "front": "f", "back": "b", "queue": 0, "deckId": 7,
                "intervals": ["1m", "6m", "10m", "4d"],
                "newCount": 1, "learnCount": 2, "reviewCount": 3,
            }))
        );
        assert_eq!(
            v(NextCard::Nothing(Message::new("later"))),
            json!({"message": "later"})
        );
        assert_eq!(
            v(Answered {
                message: "Review processed successfully",
                new_due: 9,
                interval: 0,
                queue: 1
            }),
            json!({"message": "Review processed successfully", "newDue": 9, "interval": 0, "queue": 1})
        );
    }

    #[test]
    fn session_and_import_bodies() {
        assert_eq!(
            v(Imported {
                decks: vec!["D".into()],
                decks_added: 1,
                notes: 1,
                notes_updated: 4,
                notes_skipped: 5,
                cards: 2,
                cards_skipped: 6,
                revlog: 3,
                revlog_skipped: 7,
                media: 8,
                media_skipped: 9,
            }),
            json!({"decks": ["D"], "decksAdded": 1, "notes": 1, "notesUpdated": 4,
                   "notesSkipped": 5, "cards": 2, "cardsSkipped": 6, "revlog": 3,
                   "revlogSkipped": 7, "media": 8, "mediaSkipped": 9})
        );
    }
}

/// `GET /api/sync/keys`: the user's sync device keys, never their secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceKeyList {
    pub keys: Vec<DeviceKeyInfo>,
}

/// One device key as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceKeyInfo {
    pub id: String,
    /// The client's version string when it logged in (e.g. `26.09.3,29bb700b,linux`).
    pub label: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub last_used_at: i64,
}
