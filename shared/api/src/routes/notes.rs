//! Note types and notes of any type (function `crud`).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use javumbo_collection::notes::{NewNote, NoteUpdate};
use javumbo_collection::notetypes::{NoteType, NoteTypeKind};
use javumbo_collection::{Collection, CollectionError};
use serde::Deserialize;

use super::bodies::{
    AddedNote, NoteCardBody, NoteDetail, NoteFieldBody, NoteTypeEntry, NoteTypeList, Success,
    UpdatedNote,
};
use super::{Reply, on_collection, required, session_json_with_id, write};
use crate::AppState;
use crate::extract::{ApiJson, ApiPath, AuthUser};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/notetypes", get(list_note_types))
        .route("/api/notes", axum::routing::post(add_note))
        .route(
            "/api/notes/{id}",
            get(get_note).put(update_note).delete(delete_note),
        )
}

/// A note's fields: in the note type's order, or by field name (names not given are empty).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Fields {
    List(Vec<String>),
    ByName(BTreeMap<String, String>),
}

impl Fields {
    /// The values in `nt`'s field order; an unknown name is a client mistake.
    fn in_order(self, nt: &NoteType) -> Result<Vec<String>, CollectionError> {
        match self {
            Self::List(v) => Ok(v),
            Self::ByName(mut map) => {
                let values = nt
                    .fields
                    .iter()
                    .map(|name| map.remove(name).unwrap_or_default())
                    .collect();
                match map.keys().next() {
                    Some(unknown) => Err(CollectionError::InvalidInput(format!(
                        "note type '{}' has no field '{unknown}'",
                        nt.name
                    ))),
                    None => Ok(values),
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewNoteBody {
    note_type_id: Option<i64>,
    deck_id: Option<i64>,
    fields: Option<Fields>,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NoteUpdateBody {
    fields: Option<Fields>,
    tags: Option<Vec<String>>,
}

fn kind(k: NoteTypeKind) -> &'static str {
    match k {
        NoteTypeKind::Normal => "normal",
        NoteTypeKind::Cloze => "cloze",
    }
}

async fn list_note_types(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let ((all, default), sid) = on_collection(&s, &user, |col| {
        Ok((col.note_types()?, col.default_note_type()?.id))
    })
    .await?;
    let note_types = all
        .into_iter()
        .map(|nt| NoteTypeEntry {
            default: nt.id == default,
            id: nt.id,
            kind: kind(nt.kind),
            templates: nt.templates.into_iter().map(|t| t.name).collect(),
            name: nt.name,
            fields: nt.fields,
            css: nt.css,
        })
        .collect();
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        NoteTypeList { note_types },
    ))
}

async fn add_note(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(b): ApiJson<NewNoteBody>,
) -> Reply {
    let fields = required(b.fields, "fields")?;
    let (notetype_id, deck_id, tags) = (b.note_type_id, b.deck_id, b.tags.unwrap_or_default());
    let (body, sid) = write(&s, &user, move |col: &Collection| {
        let nt = match notetype_id {
            Some(id) => col.note_type(id)?,
            None => col.default_note_type()?,
        };
        let added = col.add_note(&NewNote {
            notetype_id: Some(nt.id),
            deck_id,
            fields: fields.clone().in_order(&nt)?,
            tags: tags.clone(),
        })?;
        Ok(AddedNote {
            message: "Note added successfully",
            note_id: added.note_id,
            card_ids: added.card_ids,
        })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::CREATED, &sid, body))
}

async fn get_note(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (n, sid) = on_collection(&s, &user, move |col| col.note(id)).await?;
    Ok(session_json_with_id(
        StatusCode::OK,
        &sid,
        NoteDetail {
            note_id: n.note_id,
            note_type_id: n.notetype_id,
            note_type: n.notetype_name,
            fields: n
                .fields
                .into_iter()
                .map(|f| NoteFieldBody {
                    name: f.name,
                    value: f.value,
                })
                .collect(),
            tags: n.tags,
            cards: n
                .cards
                .into_iter()
                .map(|c| NoteCardBody {
                    card_id: c.card_id,
                    ord: c.ord,
                    deck_id: c.deck_id,
                })
                .collect(),
            modified: n.modified,
        },
    ))
}

async fn update_note(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NoteUpdateBody>,
) -> Reply {
    let fields = required(b.fields, "fields")?;
    let tags = b.tags;
    let (body, sid) = write(&s, &user, move |col: &Collection| {
        let nt = col.note_type(col.note(id)?.notetype_id)?;
        let up = col.update_note(
            id,
            &NoteUpdate {
                fields: fields.clone().in_order(&nt)?,
                tags: tags.clone(),
            },
        )?;
        Ok(UpdatedNote {
            success: true,
            message: "Note updated successfully",
            cards_added: up.cards_added,
        })
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}

async fn delete_note(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Reply {
    let (body, sid) = write(&s, &user, move |col| {
        col.delete_note(id)?;
        Ok(Success::with_message("Note deleted successfully"))
    })
    .await?;
    Ok(session_json_with_id(StatusCode::OK, &sid, body))
}
