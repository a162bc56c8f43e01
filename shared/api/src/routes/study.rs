//! The study day's settings, deck option presets, deck limits, card actions and FSRS (function
//! `crud`): thin handlers over the engine's `day`, `presets`, `bury` and `fsrs` modules, each
//! request one collection operation (validated before anything is written).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use javumbo_collection::custom_study::{CramKind, CustomSession};
use javumbo_collection::fsrs::settings::short_term_with_steps;
use javumbo_collection::{
    CardAction, ColJson, Collection, CollectionError, DeckLimits, OperationError, Preset, TimeZone,
    TodayLimit,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::bodies::{
    CardActionDone, CustomStudy, DeckLimitsBody, DeckPreset, EmptiedDeck, OptimizedBody,
    PresetBody, PresetList, Recomputed, StudySession, StudySettings, Success,
};
use super::{Reply, on_collection, required, session_json_with_id, write, write_operation};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, AuthUser};

/// The most revlog rows `POST /api/presets/{id}/optimize` trains on in one request. Training
/// is 8 epochs over the history and runs inside the request (the crud function stops at 28 s on
/// 1 GB); 20,000 reviews take a few seconds, a larger history is refused with 413 rather than
/// risking a timeout that would leave the student without an answer.
pub const MAX_OPTIMIZE_REVIEWS: usize = 20_000;

/// Keys of a preset body that are not settings: sent back by a client that PUTs what it got,
/// and ignored.
const READ_ONLY_PRESET_KEYS: &[&str] = &["id", "mtime", "deckIds", "session_id"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/settings", get(get_settings).put(put_settings))
        .route("/api/presets", get(list_presets).post(create_preset))
        .route(
            "/api/presets/{id}",
            get(get_preset).put(update_preset).delete(delete_preset),
        )
        .route("/api/presets/{id}/rename", put(rename_preset))
        .route("/api/presets/{id}/optimize", post(optimize))
        .route("/api/presets/{id}/recompute", post(recompute))
        .route("/api/decks/{id}/preset", put(set_deck_preset))
        .route(
            "/api/decks/{id}/limits",
            get(get_deck_limits).put(put_deck_limits),
        )
        .route(
            "/api/decks/{id}/custom-study",
            get(get_custom_study).post(custom_study),
        )
        .route("/api/decks/{id}/empty", post(empty_filtered_deck))
        .route("/api/cards/{id}/actions", post(card_action))
}

// ---------------------------------------------------------------------------------------------
// settings
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsBody {
    timezone: Option<String>,
    rollover_hour: Option<i64>,
    fsrs: Option<bool>,
    fsrs_short_term_with_steps: Option<bool>,
}

fn read_settings(col: &Collection) -> Result<StudySettings, CollectionError> {
    let day = col.day_settings()?;
    let conf = col.read_json(ColJson::Conf)?;
    Ok(StudySettings {
        timezone: day.timezone,
        rollover_hour: day.rollover_hour,
        fsrs: col.fsrs_enabled()?,
        fsrs_short_term_with_steps: short_term_with_steps(&conf),
    })
}

async fn get_settings(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let (settings, sid) = on_collection(&s, &user, read_settings).await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, settings))
}

async fn put_settings(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<SettingsBody>,
) -> Reply {
    // Every value is checked before the first write, so a refused request changes nothing.
    let timezone = b
        .timezone
        .as_deref()
        .map(TimeZone::parse)
        .transpose()
        .map_err(ApiError::from)?;
    if let Some(h) = b.rollover_hour
        && !(0..=23).contains(&h)
    {
        return Err(ApiError::BadRequest(format!(
            "rolloverHour {h} is out of range (expected 0 to 23)"
        ))
        .into());
    }
    let (hour, fsrs, short_term) = (b.rollover_hour, b.fsrs, b.fsrs_short_term_with_steps);
    let (settings, sid) = write(&s, &user, move |col| {
        if let Some(tz) = timezone {
            col.set_timezone(tz.name())?;
        }
        if let Some(h) = hour {
            col.set_rollover_hour(h)?;
        }
        if let Some(on) = short_term {
            col.set_fsrs_short_term_with_steps(on)?;
        }
        if let Some(on) = fsrs {
            col.set_fsrs_enabled(on)?;
        }
        read_settings(col)
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, settings))
}

// ---------------------------------------------------------------------------------------------
// presets
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewPresetBody {
    name: Option<String>,
    from_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct NameBody {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeckPresetBody {
    preset_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct OptimizeBody {
    apply: Option<bool>,
}

fn preset_body(col: &Collection, preset: Preset) -> Result<PresetBody, CollectionError> {
    let deck_ids = col.preset_decks()?.remove(&preset.id).unwrap_or_default();
    Ok(PresetBody { preset, deck_ids })
}

async fn list_presets(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let (presets, sid) = on_collection(&s, &user, |col| {
        let mut used = col.preset_decks()?;
        Ok(col
            .presets()?
            .into_iter()
            .map(|p| PresetBody {
                deck_ids: used.remove(&p.id).unwrap_or_default(),
                preset: p,
            })
            .collect())
    })
    .await?;
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        PresetList { presets },
    ))
}

async fn get_preset(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (body, sid) =
        on_collection(&s, &user, move |col| preset_body(col, col.preset(id)?)).await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn create_preset(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<NewPresetBody>,
) -> Reply {
    let name = required(b.name, "name")?;
    let from = b.from_id;
    let (body, sid) = write(&s, &user, move |col| {
        preset_body(col, col.create_preset(&name, from)?)
    })
    .await?;
    Ok(session_json_with_id(StatusCode::CREATED, &sid, body))
}

/// The settings a PUT changes, checked against the preset's shape: an unknown key or a value of
/// the wrong type is refused naming the key (ranges are the engine's to check).
fn preset_changes(body: Value) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(mut changes) = body else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object of preset fields".into(),
        ));
    };
    changes.retain(|k, _| !READ_ONLY_PRESET_KEYS.contains(&k.as_str()));
    let base = serde_json::to_value(Preset::default()).map_err(ApiError::internal)?;
    for (key, value) in &changes {
        if base.get(key).is_none() {
            return Err(ApiError::BadRequest(format!(
                "unknown preset field {key:?}"
            )));
        }
        let mut probe = base.clone();
        probe[key] = value.clone();
        serde_json::from_value::<Preset>(probe)
            .map_err(|e| ApiError::BadRequest(format!("{key}: {e}")))?;
    }
    Ok(changes)
}

/// `current` with `changes` applied (each already known to fit the preset's shape).
fn merged(current: &Preset, changes: &Map<String, Value>) -> Result<Preset, CollectionError> {
    let mut v = serde_json::to_value(current)?;
    for (key, value) in changes {
        v[key] = value.clone();
    }
    Ok(serde_json::from_value(v)?)
}

async fn update_preset(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Reply {
    let changes = preset_changes(body)?;
    let (body, sid) = write(&s, &user, move |col| {
        let current = col.preset(id)?;
        let next = merged(&current, &changes)?;
        let saved = col.update_preset(&next)?;
        // New parameters or retention change every reviewed card's memory state, as saving
        // Anki's deck options does.
        let fsrs_changed = saved.fsrs_params != current.fsrs_params
            || saved.desired_retention != current.desired_retention;
        if fsrs_changed && col.fsrs_enabled()? {
            col.recompute_memory_states(id)?;
        }
        preset_body(col, saved)
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn rename_preset(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NameBody>,
) -> Reply {
    let name = required(b.name, "name")?;
    let (body, sid) = write(&s, &user, move |col| {
        preset_body(col, col.rename_preset(id, &name)?)
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn delete_preset(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (body, sid) = write(&s, &user, move |col| {
        col.delete_preset(id)?;
        Ok(Success::with_message(
            "Preset deleted; its decks use the default preset",
        ))
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

/// Why an optimisation request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    #[error(
        "the preset's cards have {reviews} reviews; optimizing in a request is limited to {cap}"
    )]
    TooManyReviews { reviews: usize, cap: usize },
    #[error(transparent)]
    Collection(#[from] CollectionError),
}

impl OperationError for OptimizeError {
    fn is_client_error(&self) -> bool {
        match self {
            Self::TooManyReviews { .. } => true,
            Self::Collection(e) => e.is_client_error(),
        }
    }
}

async fn optimize(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<OptimizeBody>,
) -> Reply {
    let apply = b.apply.unwrap_or(false);
    let (body, sid) = write_operation(&s, &user, move |col| {
        let reviews = col.fsrs_training_reviews(id)?;
        if reviews > MAX_OPTIMIZE_REVIEWS {
            return Err(OptimizeError::TooManyReviews {
                reviews,
                cap: MAX_OPTIMIZE_REVIEWS,
            });
        }
        let o = col.optimize_fsrs_params(id, apply)?;
        Ok(OptimizedBody {
            params: o.params,
            fsrs_items: o.fsrs_items,
            reviews: o.reviews,
            applied: o.applied,
        })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn recompute(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (body, sid) = write(&s, &user, move |col| {
        col.preset(id)?;
        let update = col.recompute_memory_states(id)?;
        Ok(Recomputed {
            cards_updated: update.cards,
        })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

// ---------------------------------------------------------------------------------------------
// decks
// ---------------------------------------------------------------------------------------------

async fn set_deck_preset(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(deck_id): ApiPath<i64>,
    ApiJson(b): ApiJson<DeckPresetBody>,
) -> Reply {
    let preset_id = required(b.preset_id, "presetId")?;
    let (body, sid) = write(&s, &user, move |col| {
        col.set_deck_preset(deck_id, preset_id)?;
        Ok(DeckPreset { deck_id, preset_id })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

/// A "today only" limit as a client sends it: `today` is stamped by the server (whatever the
/// client says), so it may be left out.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct TodayLimitIn {
    limit: u32,
    #[serde(rename = "today")]
    _today: Option<u32>,
}

/// Every limit of the deck; absent or `null` clears one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitsBody {
    review_limit: Option<u32>,
    new_limit: Option<u32>,
    review_limit_today: Option<TodayLimitIn>,
    new_limit_today: Option<TodayLimitIn>,
    #[serde(rename = "deckId")]
    _deck_id: Option<i64>,
    #[serde(rename = "session_id")]
    _session_id: Option<String>,
}

fn today_limit(l: Option<TodayLimitIn>) -> Option<TodayLimit> {
    l.map(|l| TodayLimit {
        limit: l.limit,
        today: 0,
    })
}

async fn get_deck_limits(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(deck_id): ApiPath<i64>,
) -> Reply {
    let (limits, sid) = on_collection(&s, &user, move |col| col.deck_limits(deck_id)).await?;
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        DeckLimitsBody { deck_id, limits },
    ))
}

async fn put_deck_limits(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(deck_id): ApiPath<i64>,
    ApiJson(b): ApiJson<LimitsBody>,
) -> Reply {
    let limits = DeckLimits {
        review_limit: b.review_limit,
        new_limit: b.new_limit,
        review_limit_today: today_limit(b.review_limit_today),
        new_limit_today: today_limit(b.new_limit_today),
    };
    let (body, sid) = write(&s, &user, move |col| {
        let limits = col.set_deck_limits(deck_id, &limits)?;
        Ok(DeckLimitsBody { deck_id, limits })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

// ---------------------------------------------------------------------------------------------
// custom study: today's limits extended
// ---------------------------------------------------------------------------------------------

/// `POST /api/decks/{id}/custom-study`: exactly one choice, as Anki's custom study dialog
/// sends one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CustomStudyIn {
    new_limit_delta: Option<i32>,
    review_limit_delta: Option<i32>,
    forgot_days: Option<u32>,
    review_ahead_days: Option<u32>,
    preview_days: Option<u32>,
    cram: Option<CramIn>,
    #[serde(rename = "session_id")]
    _session_id: Option<String>,
}

/// "Study by card state or tag".
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CramIn {
    kind: CramKindIn,
    card_limit: u32,
    #[serde(default)]
    tags_to_include: Vec<String>,
    #[serde(default)]
    tags_to_exclude: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum CramKindIn {
    New,
    Due,
    Review,
    All,
}

/// What a custom study request asks for.
enum CustomChoice {
    Extend { new: i32, review: i32 },
    Session(CustomSession),
}

impl CustomStudyIn {
    fn choice(self) -> Result<CustomChoice, ApiError> {
        let given = [
            self.new_limit_delta.is_some(),
            self.review_limit_delta.is_some(),
            self.forgot_days.is_some(),
            self.review_ahead_days.is_some(),
            self.preview_days.is_some(),
            self.cram.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(ApiError::BadRequest(
                "give exactly one of newLimitDelta, reviewLimitDelta, forgotDays, \
                 reviewAheadDays, previewDays and cram"
                    .into(),
            ));
        }
        Ok(if let Some(n) = self.new_limit_delta {
            CustomChoice::Extend { new: n, review: 0 }
        } else if let Some(r) = self.review_limit_delta {
            CustomChoice::Extend { new: 0, review: r }
        } else if let Some(d) = self.forgot_days {
            CustomChoice::Session(CustomSession::ForgotDays(d))
        } else if let Some(d) = self.review_ahead_days {
            CustomChoice::Session(CustomSession::ReviewAheadDays(d))
        } else if let Some(d) = self.preview_days {
            CustomChoice::Session(CustomSession::PreviewDays(d))
        } else if let Some(cram) = self.cram {
            CustomChoice::Session(CustomSession::Cram {
                kind: match cram.kind {
                    CramKindIn::New => CramKind::New,
                    CramKindIn::Due => CramKind::Due,
                    CramKindIn::Review => CramKind::Review,
                    CramKindIn::All => CramKind::All,
                },
                card_limit: cram.card_limit,
                tags_to_include: cram.tags_to_include,
                tags_to_exclude: cram.tags_to_exclude,
            })
        } else {
            // Unreachable: exactly one field was counted above.
            return Err(ApiError::BadRequest("no custom study choice given".into()));
        })
    }
}

fn custom_study_body(col: &Collection, deck_id: i64) -> Result<CustomStudy, CollectionError> {
    let decks = col.read_json_shared(ColJson::Decks)?;
    let deck = decks
        .get(&deck_id.to_string())
        .ok_or_else(|| CollectionError::NotFound(format!("deck {deck_id} not found")))?;
    let extend = |key: &str| deck.get(key).and_then(Value::as_i64).unwrap_or(0);
    Ok(CustomStudy {
        deck_id,
        extend_new: extend("extendNew"),
        extend_review: extend("extendRev"),
        counts: col.due_counts(deck_id)?,
        tags: col.custom_study_tags(deck_id)?,
        session: None,
    })
}

async fn get_custom_study(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(deck_id): ApiPath<i64>,
) -> Reply {
    let (body, sid) = on_collection(&s, &user, move |col| custom_study_body(col, deck_id)).await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn custom_study(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(deck_id): ApiPath<i64>,
    ApiJson(b): ApiJson<CustomStudyIn>,
) -> Reply {
    let choice = b.choice()?;
    let (body, sid) = write(&s, &user, move |col| match &choice {
        CustomChoice::Extend { new, review } => {
            col.extend_limits(deck_id, *new, *review)?;
            custom_study_body(col, deck_id)
        }
        CustomChoice::Session(session) => {
            let built = col.custom_study_session(deck_id, session)?;
            let mut body = custom_study_body(col, deck_id)?;
            body.session = Some(StudySession {
                deck_id: built.deck_id,
                name: built.name,
                cards: built.cards,
            });
            Ok(body)
        }
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

/// `POST /api/decks/{id}/empty`: a filtered deck's cards sent home (Anki's "Empty").
async fn empty_filtered_deck(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(deck_id): ApiPath<i64>,
) -> Reply {
    let (body, sid) = write(&s, &user, move |col| {
        Ok(EmptiedDeck {
            deck_id,
            returned: col.empty_filtered_deck(deck_id)?,
        })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

// ---------------------------------------------------------------------------------------------
// card actions
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ActionBody {
    action: Option<String>,
}

/// Anki's queue numbers for the states the actions leave.
const QUEUE_SUSPENDED: i64 = -1;
const QUEUE_SIBLING_BURIED: i64 = -2;
const QUEUE_USER_BURIED: i64 = -3;

/// What an action does to a card in `queue`: `None` leaves it (unsuspending a card that is not
/// suspended, unburying one that is not buried: a repeated click changes nothing).
fn engine_action(action: &str, queue: i64) -> Result<Option<CardAction>, ApiError> {
    Ok(match action {
        "bury" => Some(CardAction::Bury),
        "suspend" => Some(CardAction::Suspend),
        "unsuspend" => (queue == QUEUE_SUSPENDED).then_some(CardAction::Restore),
        "unbury" => {
            matches!(queue, QUEUE_SIBLING_BURIED | QUEUE_USER_BURIED).then_some(CardAction::Restore)
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown action {other:?} (expected bury, suspend, unsuspend or unbury)"
            )));
        }
    })
}

async fn card_action(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(card_id): ApiPath<i64>,
    ApiJson(b): ApiJson<ActionBody>,
) -> Reply {
    let action = required(b.action, "action")?;
    // An unknown action is refused before the collection is opened.
    engine_action(&action, 0)?;
    let (body, sid) = write(&s, &user, move |col| {
        let queue = col.card(card_id)?.queue;
        let Ok(todo) = engine_action(&action, queue) else {
            return Err(CollectionError::InvalidInput(format!(
                "unknown action {action:?}"
            )));
        };
        let queue = match todo {
            Some(a) => {
                col.card_action(card_id, a)?;
                col.card(card_id)?.queue
            }
            None => queue,
        };
        Ok(CardActionDone { card_id, queue })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn preset_changes_name_the_bad_key() {
        let e = preset_changes(json!({"newPerDay": -1})).unwrap_err();
        assert!(e.to_string().starts_with("newPerDay: "), "{e}");
        let e = preset_changes(json!({"learnSteps": "1m 10m"})).unwrap_err();
        assert!(e.to_string().starts_with("learnSteps: "), "{e}");
        let e = preset_changes(json!({"newPerDya": 3})).unwrap_err();
        assert!(e.to_string().contains("newPerDya"), "{e}");
        assert!(preset_changes(json!([1])).is_err());
        let ok = preset_changes(json!({"id": 9, "deckIds": [1], "newPerDay": 7})).unwrap();
        assert_eq!(ok.keys().collect::<Vec<_>>(), ["newPerDay"]);
    }

    #[test]
    fn merging_changes_only_the_named_fields() {
        let current = Preset {
            id: 5,
            ..Preset::default()
        };
        let changes = preset_changes(json!({"newPerDay": 7, "buryNew": true})).unwrap();
        let next = merged(&current, &changes).unwrap();
        assert_eq!(
            next,
            Preset {
                new_per_day: 7,
                bury_new: true,
                ..current
            }
        );
    }

    #[test]
    fn actions_are_idempotent_where_anki_is() {
        assert_eq!(engine_action("bury", 0).unwrap(), Some(CardAction::Bury));
        assert_eq!(engine_action("unsuspend", 2).unwrap(), None);
        assert_eq!(
            engine_action("unsuspend", QUEUE_SUSPENDED).unwrap(),
            Some(CardAction::Restore)
        );
        assert_eq!(engine_action("unbury", QUEUE_SUSPENDED).unwrap(), None);
        assert_eq!(
            engine_action("unbury", QUEUE_SIBLING_BURIED).unwrap(),
            Some(CardAction::Restore)
        );
        assert!(engine_action("delete", 0).is_err());
    }
}
