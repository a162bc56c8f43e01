//! Registration, login and health (function `auth`).

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use javumbo_collection::TimeZone;
use javumbo_session::{StoreError, UserRecord, Username};
use serde::Deserialize;

use super::bodies::{Health, LoginResponse, Message};
use super::required;
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthToken, SourceAddr, token_user};
use crate::{AppState, password};

const MIN_PASSWORD_CHARS: usize = 8;
/// Hashing cost grows with input; nobody's password is longer than this.
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_NAME_CHARS: usize = 50;
/// Logouts remembered one by one per user (each until its token expires); past this many, a
/// logout voids all the user's older tokens instead, so a record cannot grow without bound.
const MAX_SINGLE_REVOCATIONS: usize = 256;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/register", post(register))
        .route("/register", post(register))
        .route("/api/login", post(login))
        .route("/login", post(login))
        .route("/api/health", get(health))
        .route("/api/logout", post(logout))
        .route("/api/account/password", put(change_password))
        .route("/api/account", delete(delete_account))
}

#[derive(Debug, Deserialize)]
struct RegisterBody {
    username: Option<String>,
    name: Option<String>,
    password: Option<String>,
    /// The student's IANA zone (the web app sends the browser's); UTC when absent.
    timezone: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    username: Option<String>,
    password: Option<String>,
}

fn validate_password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::BadRequest(format!(
            "Password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::BadRequest(format!(
            "Password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

async fn register(
    State(state): State<AppState>,
    SourceAddr(ip): SourceAddr,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Response, ApiError> {
    let username = required(body.username, "username")?;
    let name = required(body.name, "name")?;
    let pw = required(body.password, "password")?;
    let user = Username::parse(&username).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::BadRequest(format!(
            "Name must be 1-{MAX_NAME_CHARS} characters"
        )));
    }
    validate_password(&pw)?;
    let timezone = body
        .timezone
        .as_deref()
        .map(TimeZone::parse)
        .transpose()
        .map_err(ApiError::from)?;
    // A cheap read first spares the hashing and the collection write for a taken name (in any
    // case: registrations are unique case-insensitively); the conditional create below is what
    // actually decides a race.
    // "Username already exists" tells whether an account exists, so taken names count against
    // the source address like failed logins: names cannot be enumerated faster than passwords
    // can be guessed.
    let now_ms = state.clock.now_ms();
    state
        .throttle
        .check_source(&ip, now_ms)
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;
    if state.users.name_taken(&user).await? {
        state.throttle.record_source_failure(&ip, now_ms);
        return Err(username_taken());
    }
    let hash = state.hashing.run(move || password::hash(&pw)).await??;
    // The collection first: a user record must never exist without its collection. A crash in
    // between leaves only a fresh, unowned collection, which the next registration reuses.
    state.sessions.create_collection_in(&user, timezone).await?;
    let record = UserRecord {
        username: user,
        password_hash: hash,
        name,
        created_at: state.clock.now_ms(),
        revocation: Default::default(),
    };
    if !state.users.create_if_absent(&record).await? {
        state.throttle.record_source_failure(&ip, now_ms);
        return Err(username_taken());
    }
    Ok(Json(Message::new("User registered successfully")).into_response())
}

/// 400, not 409: the original app's client treats any 400 on register as "show the message",
/// and the body is the same error shape as every other bad registration.
fn username_taken() -> ApiError {
    ApiError::BadRequest("Username already exists".into())
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized("Invalid credentials".into())
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

async fn login(
    State(state): State<AppState>,
    SourceAddr(ip): SourceAddr,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let username = required(body.username, "username")?;
    let pw = required(body.password, "password")?;
    let record = check_credentials(&state, &username, pw, &ip).await?;
    // A password change voids tokens issued before the next second; a login within that
    // second is issued at it, so that its token is not void too.
    let issued_at = state.clock.now_secs().max(record.revocation.not_before);
    let token = crate::jwt::issue(
        &state.config,
        &record.username,
        record.created_at,
        issued_at,
    )?;
    Ok(Json(LoginResponse {
        access_token: token,
        username: record.username.as_str().to_owned(),
        name: record.name,
    })
    .into_response())
}

/// The one password check, shared by the API login and the sync `hostKey`: login throttle,
/// verification without user enumeration, legacy-hash migration. `Unauthorized` on bad
/// credentials, `TooManyRequests` when throttled.
pub(crate) async fn check_credentials(
    state: &AppState,
    username: &str,
    pw: String,
    ip: &str,
) -> Result<UserRecord, ApiError> {
    // Throttle keys are bounded so a flood of huge names cannot grow memory.
    let user_key: String = username.chars().take(64).collect();
    let now_ms = state.clock.now_ms();
    // Reserved before the password is looked at: every way out of this function but a correct
    // password (a wrong one, an unknown user, a dropped connection, an error) counts as a
    // failure, and parallel guesses count while they are still being verified.
    let attempt = state
        .throttle
        .begin(&user_key, ip, now_ms)
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;

    let record = match Username::parse(username) {
        Ok(u) => state.users.get(&u).await?,
        Err(_) => None,
    };
    let Some(record) = record else {
        // Same work and same answer as a wrong password: no user enumeration.
        state
            .hashing
            .run(move || password::verify_dummy(&pw))
            .await?;
        return Err(invalid_credentials());
    };
    let stored = record.password_hash.clone();
    let (verified, pw) = state
        .hashing
        .run(move || (password::verify(&pw, &stored), pw))
        .await?;
    if !verified.ok {
        return Err(invalid_credentials());
    }
    attempt.succeeded();
    if verified.needs_rehash {
        rehash(state, &record, pw).await;
    }
    Ok(record)
}

/// Migrate a legacy bcrypt hash to argon2id. Best effort: the login already succeeded, and a
/// concurrent password change (the CAS fails) must win.
async fn rehash(state: &AppState, record: &UserRecord, pw: String) {
    let new_hash = match state.hashing.run(move || password::hash(&pw)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) | Err(e) => {
            tracing::warn!(error = %e, "rehash failed");
            return;
        }
    };
    match state
        .users
        .update_password_hash(&record.username, &record.password_hash, &new_hash)
        .await
    {
        Ok(()) => tracing::info!(user = %record.username, "migrated bcrypt hash to argon2id"),
        Err(StoreError::ConditionFailed) => {}
        Err(e) => tracing::warn!(error = %e, "rehash store write failed"),
    }
}

async fn health(State(state): State<AppState>, req: Request) -> Json<Health> {
    let (parts, _) = req.into_parts();
    // A bad token is not an error here: health answers everyone, naming only a valid user.
    let username = token_user(&parts, &state)
        .await
        .ok()
        .map(|(v, _)| v.user.as_str().to_owned());
    Json(Health {
        status: "ok",
        username,
    })
}

/// `POST /api/logout`: the presented token is void from now on, on every container.
async fn logout(
    State(state): State<AppState>,
    AuthToken(token, record): AuthToken,
) -> Result<Response, ApiError> {
    let now = state.clock.now_secs();
    let live = record
        .revocation
        .revoked
        .values()
        .filter(|exp| **exp >= now)
        .count();
    if live >= MAX_SINGLE_REVOCATIONS {
        // Every token issued up to now, this one included (tokens issued within this second
        // too: the cut-off is the next second).
        state
            .users
            .revoke_all_tokens(&token.user, now + 1, None)
            .await?;
    } else {
        state
            .users
            .revoke_token(&token.user, &token.claims.jti, token.claims.exp, now)
            .await?;
    }
    Ok(Json(Message::new("Logged out")).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// `PUT /api/account/password`: needs the current password (throttled like a login, so a
/// stolen token cannot guess it faster), voids every token and sync device key of the user,
/// and answers a fresh token for the caller.
async fn change_password(
    State(state): State<AppState>,
    SourceAddr(ip): SourceAddr,
    AuthToken(token, _): AuthToken,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<Response, ApiError> {
    let current = required(body.current_password, "currentPassword")?;
    let new = required(body.new_password, "newPassword")?;
    validate_password(&new)?;
    let record = check_credentials(&state, token.user.as_str(), current, &ip).await?;
    let new_hash = state.hashing.run(move || password::hash(&new)).await??;
    // Device keys before and after the swap: a key made in between by someone who still knew
    // the old password does not survive either.
    revoke_device_keys(&state, &record.username).await?;
    // Tokens issued before the next second are void; the caller's new token is issued at it.
    let cut_off = state.clock.now_secs() + 1;
    match state
        .users
        .revoke_all_tokens(
            &record.username,
            cut_off,
            Some((&record.password_hash, &new_hash)),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::Conflict(
                "The password was changed meanwhile; log in again".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    revoke_device_keys(&state, &record.username).await?;
    tracing::info!(user = %record.username, "password changed; tokens and device keys revoked");
    let access_token =
        crate::jwt::issue(&state.config, &record.username, record.created_at, cut_off)?;
    Ok(Json(LoginResponse {
        access_token,
        username: record.username.as_str().to_owned(),
        name: record.name,
    })
    .into_response())
}

async fn revoke_device_keys(state: &AppState, user: &Username) -> Result<(), ApiError> {
    super::sync::revoke_all_device_keys(state.users.as_ref(), user).await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
struct DeleteAccountBody {
    password: Option<String>,
    /// The username, typed again: the explicit confirmation.
    confirm: Option<String>,
}

/// `DELETE /api/account`: with the password and the username typed again, removes the user,
/// their collection, journal and media (every stored version), device keys and tokens. Safe to
/// repeat after a failure: each step is idempotent and the user record goes last.
async fn delete_account(
    State(state): State<AppState>,
    SourceAddr(ip): SourceAddr,
    AuthToken(token, _): AuthToken,
    ApiJson(body): ApiJson<DeleteAccountBody>,
) -> Result<Response, ApiError> {
    let pw = required(body.password, "password")?;
    let confirm = required(body.confirm, "confirm")?;
    if confirm != token.user.as_str() {
        return Err(ApiError::BadRequest(
            "To delete the account, send your username in \"confirm\"".into(),
        ));
    }
    let record = check_credentials(&state, token.user.as_str(), pw, &ip).await?;
    let user = record.username;
    // From here on no token of the user is accepted, so nothing new starts while the data
    // goes; the session item's deletion fences out writes already in flight.
    state
        .users
        .revoke_all_tokens(&user, state.clock.now_secs() + 1, None)
        .await?;
    revoke_device_keys(&state, &user).await?;
    state.sessions.delete_collection(&user).await?;
    state.users.delete_user(&user).await?;
    tracing::info!(user = %user, "account deleted");
    Ok(Json(Message::new("Account deleted")).into_response())
}
