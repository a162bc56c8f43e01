//! Decks, cards, stats and the session endpoints (function `crud`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde::Deserialize;

use super::bodies::{
    AddedCard, CardDetail, CardSummary, Counts, CreatedDeck, DeckCards, DeckEntry, DeckList,
    DeckStats, Message, Pagination, RenamedDeck, Success,
};
use super::{Reply, on_collection, required, session_json, session_json_with_id, write};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};

const MAX_PER_PAGE: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/decks", get(list_decks).post(create_deck))
        .route("/api/decks/current", put(set_current_deck))
        .route("/api/decks/{id}", axum::routing::delete(delete_deck))
        .route("/api/decks/{id}/rename", put(rename_deck))
        .route("/api/decks/{id}/stats", get(deck_stats))
        .route("/api/decks/{id}/cards", get(deck_cards))
        .route("/api/cards", post(add_card))
        .route(
            "/api/cards/{id}",
            get(get_card).put(update_card).delete(delete_card),
        )
        .merge(super::notes::routes())
        .merge(super::study::routes())
        .merge(super::media::routes())
        .route("/api/session/status", get(session_status))
        .route("/api/session/flush", post(flush_session))
}

#[derive(Debug, Deserialize)]
struct NameBody {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CurrentDeckBody {
    #[serde(rename = "deckId")]
    deck_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct CardBody {
    front: Option<String>,
    back: Option<String>,
    #[serde(rename = "deckId")]
    deck_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<i64>,
    #[serde(rename = "perPage")]
    per_page: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct FlushBody {
    session_id: Option<String>,
}

async fn list_decks(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let ((decks, current), sid) = on_collection(&s, &user, |col| {
        let counts = col.all_due_counts()?;
        let decks = col
            .decks()?
            .into_iter()
            .map(|d| (counts.get(&d.id).copied().unwrap_or_default(), d))
            .collect::<Vec<_>>();
        Ok((decks, col.current_deck_id()?))
    })
    .await?;
    // `current` and the counts are additions to the old contract: clients no longer have to
    // remember which deck they made current (the old React client ignores unknown fields).
    let decks = decks
        .into_iter()
        .map(|(counts, d)| DeckEntry {
            current: d.id == current,
            filtered: d.filtered,
            id: d.id,
            name: d.name,
            desc: d.desc,
            counts: counts.into(),
        })
        .collect();
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        DeckList { decks },
    ))
}

async fn create_deck(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<NameBody>,
) -> Reply {
    let name = required(b.name, "name")?;
    let (body, sid) = write(&s, &user, move |col| {
        let deck = col.create_deck(&name)?;
        Ok(CreatedDeck {
            id: deck.id,
            name: deck.name,
        })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::CREATED, &sid, body))
}

async fn set_current_deck(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<CurrentDeckBody>,
) -> Reply {
    let id = required(b.deck_id, "deckId")?;
    let (body, sid) = write(&s, &user, move |col| {
        col.set_current_deck(id)?;
        Ok(Message::new("Current deck updated successfully"))
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn rename_deck(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NameBody>,
) -> Reply {
    let name = required(b.name, "name")?;
    let (body, sid) = write(&s, &user, move |col| {
        let deck = col.rename_deck(id, &name)?;
        Ok(RenamedDeck {
            message: "Deck renamed successfully",
            id: deck.id,
            name: deck.name,
        })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn delete_deck(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (body, sid) = write(&s, &user, move |col| {
        let gone = col.delete_deck(id)?;
        Ok(Message::new(format!(
            "Deck '{}' and {} cards deleted successfully",
            gone.name, gone.cards_deleted
        )))
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn deck_stats(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (st, sid) = on_collection(&s, &user, move |col| col.deck_stats(id)).await?;
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        DeckStats {
            counts: Counts {
                new: st.new,
                learning: st.learning,
                relearning: st.relearning,
                young: st.young,
                mature: st.mature,
                suspended: st.suspended,
                buried: st.buried,
            },
            total: st.total,
        },
    ))
}

async fn deck_cards(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Reply {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(10);
    if page < 1 {
        return Err(ApiError::BadRequest("page must be at least 1".into()).into());
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(
            ApiError::BadRequest(format!("perPage must be between 1 and {MAX_PER_PAGE}")).into(),
        );
    }
    let (p, sid) = on_collection(&s, &user, move |col| col.deck_cards(id, page, per_page)).await?;
    let cards = p
        .cards
        .into_iter()
        .map(|c| CardSummary {
            card_id: c.card_id,
            note_id: c.note_id,
            front: c.front,
            back: c.back,
            modified: c.modified,
            queue: c.queue,
            rendered: c.rendering.into(),
        })
        .collect();
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        DeckCards {
            deck_id: p.deck_id,
            deck_name: p.deck_name,
            cards,
            pagination: Pagination {
                total: p.total,
                page: p.page,
                per_page: p.per_page,
                total_pages: p.total_pages,
            },
        },
    ))
}

async fn add_card(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<CardBody>,
) -> Reply {
    let front = required(b.front, "front")?;
    let back = required(b.back, "back")?;
    let deck_id = b.deck_id;
    let (body, sid) = write(&s, &user, move |col| {
        let added = col.add_card(&front, &back, deck_id)?;
        Ok(AddedCard::new(
            "Card added successfully",
            added.card_id,
            added.note_id,
        ))
    })
    .await?;
    Ok(session_json_with_id(StatusCode::CREATED, &sid, body))
}

async fn get_card(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (c, sid) = on_collection(&s, &user, move |col| col.card(id)).await?;
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        CardDetail {
            card_id: c.card_id,
            note_id: c.note_id,
            deck_id: c.deck_id,
            front: c.front,
            back: c.back,
            queue: c.queue,
            due: c.due,
            rendered: c.rendering.into(),
        },
    ))
}

async fn update_card(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CardBody>,
) -> Reply {
    let front = required(b.front, "front")?;
    let back = required(b.back, "back")?;
    let (body, sid) = write(&s, &user, move |col| {
        col.update_card(id, &front, &back)?;
        Ok(Success::with_message("Card updated successfully"))
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn delete_card(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (body, sid) = write(&s, &user, move |col| {
        col.delete_card(id)?;
        Ok(Success::with_message("Card deleted successfully"))
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn session_status(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    // `SessionView` is the wire form: its status serialises as `"none"` when there is no
    // live session (never `null`, which the contract does not allow).
    let view = s.sessions.status(&user).await.map_err(ApiError::from)?;
    Ok(match view.session_id.clone() {
        Some(sid) => session_json(StatusCode::OK, &sid, view),
        None => (StatusCode::OK, axum::Json(view)).into_response(),
    })
}

async fn flush_session(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<FlushBody>,
) -> Reply {
    let sid = required(b.session_id, "session_id")?;
    if sid.is_empty() {
        return Err(ApiError::BadRequest("Missing field: session_id".into()).into());
    }
    // `sid` may be one the server has since superseded (compaction, takeover): the current
    // session is flushed and its id returned, so the client keeps the one that is current.
    let current = s
        .sessions
        .flush(&user, &sid)
        .await
        .map_err(ApiError::from)?;
    Ok(session_json(StatusCode::OK, &current, Success::new()))
}
