//! Studying (function `review`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use javumbo_collection::review::Study;
use serde::Deserialize;

use super::bodies::{Answered, Message, NextCard, ReviewCard};
use super::{Reply, on_collection, required, session_json, write};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthUser};

/// Anki's `maxTaken` is per deck and applied by the engine; this only refuses absurd input.
const MAX_TIME_TAKEN_MS: i64 = 24 * 3600 * 1000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/review", get(next_card).post(answer))
}

/// `ease` is an `i64` so serde itself rejects `true`, `"3"` and `3.0`/`3.5` (`docs/openapi.yaml`).
#[derive(Debug, Deserialize)]
struct AnswerBody {
    #[serde(rename = "cardId")]
    card_id: Option<i64>,
    ease: Option<i64>,
    #[serde(rename = "timeTaken")]
    time_taken: Option<i64>,
    /// Accepted for old clients; the card id alone identifies the card.
    #[serde(rename = "noteId")]
    _note_id: Option<i64>,
}

async fn next_card(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let (study, sid) = on_collection(&s, &user, |col| col.next_card()).await?;
    let body = match study {
        Study::Card(c) => NextCard::Card(ReviewCard {
            card_id: c.card_id,
            note_id: c.note_id,
            front: c.front,
            back: c.back,
            queue: c.queue,
            deck_id: c.deck_id,
            intervals: c.intervals,
            counts: c.counts.into(),
            rendered: c.rendering.into(),
        }),
        Study::Nothing(why) => NextCard::Nothing(Message::new(why.message())),
    };
    Ok(session_json(StatusCode::OK, &sid, body))
}

async fn answer(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<AnswerBody>,
) -> Reply {
    let card_id = required(b.card_id, "cardId")?;
    let ease = required(b.ease, "ease")?;
    if !(1..=4).contains(&ease) {
        return Err(ApiError::BadRequest("ease must be an integer from 1 to 4".into()).into());
    }
    let taken = match b.time_taken {
        Some(t) if !(0..=MAX_TIME_TAKEN_MS).contains(&t) => {
            return Err(ApiError::BadRequest(
                "timeTaken must be a non-negative number of milliseconds".into(),
            )
            .into());
        }
        t => t,
    };
    let (body, sid) = write(&s, &user, move |col| {
        let r = col.answer_card(card_id, ease, taken)?;
        Ok(Answered {
            message: "Review processed successfully",
            new_due: r.new_due_secs,
            interval: r.interval_days,
            queue: r.queue,
        })
    })
    .await?;
    Ok(session_json(StatusCode::OK, &sid, body))
}
