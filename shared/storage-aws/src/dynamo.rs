//! `users`, `sessions` and `journal` on DynamoDB (`docs/ARCHITECTURE.md#durable-state`). Every read
//! is strongly consistent; every conditional write asks for the current item on failure so that a
//! write whose first attempt landed (and whose SDK retry then failed its condition) is recognised
//! as ours instead of being reported as a definite "no".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    WriteRequest,
};
use bytes::Bytes;
use javumbo_session::{
    DeviceKey, DeviceKeyStore, Fence, JournalEntry, JournalPayload, Metrics, SessionExpect,
    SessionItem, SessionStatus, SessionStore, StoreResult, TokenRevocation, UserRecord, UserStore,
    Username,
};
use sha2::{Digest, Sha256};

use crate::error::{AwsStoreError, Result, sdk_error};

mod tail;

type Item = HashMap<String, AttributeValue>;

// Attribute names (fixed by the CDK stack for the keys; the rest are ours).
const USERNAME: &str = "username";
const SEQ: &str = "seq";
const PASSWORD_HASH: &str = "password_hash";
const NAME: &str = "name";
const CREATED_AT: &str = "created_at";
const SESSION_ID: &str = "session_id";
const OWNER: &str = "owner";
const EPOCH: &str = "epoch";
const STATUS: &str = "status";
const SNAPSHOT_SEQ: &str = "snapshot_seq";
const REQUESTED_BY: &str = "requested_by";
const LAST_ACCESS: &str = "last_access";
const EXPIRES_AT: &str = "expires_at";
const REQUEST_ID: &str = "request_id";
const AT_MS: &str = "at_ms";
const SCHEMA_FINGERPRINT: &str = "schema_fingerprint";
const PAYLOAD: &str = "payload";
const SPILL_KEY: &str = "spill_key";
const SPILL_LEN: &str = "spill_len";
/// Device keys are attributes `dk_<id>` of the user's item (a map), so a user's keys are one
/// consistent read and go away with the item; ids are hex, so attribute names stay simple.
const DEVICE_KEY_PREFIX: &str = "dk_";
const DK_HASH: &str = "hash";
const DK_LABEL: &str = "label";
const DK_CREATED: &str = "created_at";
const DK_LAST_USED: &str = "last_used_at";
/// Epoch seconds: tokens issued before are void.
const TOKENS_NOT_BEFORE: &str = "tokens_not_before";
/// String set of `<expiry>:<jti>`, the tokens voided by a logout: `ADD`/`DELETE` on a set are
/// atomic, so concurrent logouts need no read-modify-write.
const REVOKED: &str = "revoked_tokens";

/// BatchWriteItem's limit per call.
const BATCH_WRITE_MAX: usize = 25;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s(item: &Item, k: &str) -> Result<String> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        other => Err(AwsStoreError::corrupt(format!(
            "attribute {k}: expected S, found {other:?}"
        ))),
    }
}

fn get_opt_s(item: &Item, k: &str) -> Result<Option<String>> {
    match item.get(k) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        other => Err(AwsStoreError::corrupt(format!(
            "attribute {k}: expected S, found {other:?}"
        ))),
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, k: &str) -> Result<T> {
    match item.get(k) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| AwsStoreError::corrupt(format!("attribute {k}: {v:?} is out of range"))),
        other => Err(AwsStoreError::corrupt(format!(
            "attribute {k}: expected N, found {other:?}"
        ))),
    }
}

/// Usernames are keyed by [`Username::storage_key`] (ASCII, and the name itself for the names
/// javumbo accepted before Unicode ones), never by the raw name.
fn get_username(item: &Item) -> Result<Username> {
    let raw = get_s(item, USERNAME)?;
    Username::from_storage_key(&raw)
        .ok_or_else(|| AwsStoreError::corrupt(format!("stored username key {raw:?} is invalid")))
}

/// Prefix of the users-table items that claim a folded name (registration uniqueness). No
/// storage key contains `#`, so these never collide with a user item.
const NAME_CLAIM_PREFIX: &str = "#name:";
/// The user whose creation claimed the folded name (its storage key): for operators only.
const CLAIMED_BY: &str = "claimed_by";

fn name_claim_key(username: &Username) -> AttributeValue {
    s(format!("{NAME_CLAIM_PREFIX}{}", username.folded_key()))
}

/// `ClientRequestToken` of a user creation: an SDK retry of the same creation is applied once.
fn user_token(u: &UserRecord, migrated: bool) -> String {
    let mut h = Sha256::new();
    for part in [
        u.username.storage_key().as_bytes(),
        u.password_hash.as_bytes(),
        &u.created_at.to_be_bytes(),
        &[u8::from(migrated)],
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())[..36].to_owned()
}

fn user_to_item(u: &UserRecord) -> Item {
    HashMap::from([
        (USERNAME.to_owned(), s(u.username.storage_key())),
        (PASSWORD_HASH.to_owned(), s(&u.password_hash)),
        (NAME.to_owned(), s(&u.name)),
        (CREATED_AT.to_owned(), n(u.created_at)),
    ])
}

fn user_from_item(item: &Item) -> Result<UserRecord> {
    let not_before = match item.get(TOKENS_NOT_BEFORE) {
        Some(_) => get_n(item, TOKENS_NOT_BEFORE)?,
        None => 0,
    };
    Ok(UserRecord {
        username: get_username(item)?,
        password_hash: get_s(item, PASSWORD_HASH)?,
        name: get_s(item, NAME)?,
        created_at: get_n(item, CREATED_AT)?,
        revocation: TokenRevocation {
            not_before,
            revoked: revoked_from_item(item)?,
        },
    })
}

/// A failed `UpdateItem`: `Ok(old)` when its condition failed (with the item as it was, when
/// the call asked for it), the service's rejection otherwise.
fn condition_failure<R>(
    e: aws_sdk_dynamodb::error::SdkError<UpdateItemError, R>,
) -> StoreResult<Option<Item>>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e.into_service_error() {
        UpdateItemError::ConditionalCheckFailedException(c) => Ok(c.item),
        other => Err(AwsStoreError::Rejected {
            service: "dynamodb",
            operation: "UpdateItem",
            message: other.to_string(),
        }
        .into()),
    }
}

fn revoked_element(jti: &str, expires_at: i64) -> String {
    format!("{expires_at}:{jti}")
}

fn revoked_from_item(item: &Item) -> Result<std::collections::BTreeMap<String, i64>> {
    let Some(v) = item.get(REVOKED) else {
        return Ok(Default::default());
    };
    let AttributeValue::Ss(set) = v else {
        return Err(AwsStoreError::corrupt(format!(
            "{REVOKED}: expected SS, found {v:?}"
        )));
    };
    set.iter()
        .map(|e| {
            e.split_once(':')
                .and_then(|(exp, jti)| Some((jti.to_owned(), exp.parse().ok()?)))
                .ok_or_else(|| AwsStoreError::corrupt(format!("{REVOKED} element {e:?}")))
        })
        .collect()
}

fn session_to_item(it: &SessionItem) -> Item {
    let mut m = HashMap::from([
        (USERNAME.to_owned(), s(it.username.storage_key())),
        (SESSION_ID.to_owned(), s(&it.session_id)),
        (EPOCH.to_owned(), n(it.epoch)),
        (STATUS.to_owned(), s(it.status.as_str())),
        (SEQ.to_owned(), n(it.seq)),
        (SNAPSHOT_SEQ.to_owned(), n(it.snapshot_seq)),
        (LAST_ACCESS.to_owned(), n(it.last_access)),
        (EXPIRES_AT.to_owned(), n(it.expires_at)),
    ]);
    // Absent rather than NULL: conditions test `attribute_not_exists(owner)`.
    if let Some(o) = &it.owner {
        m.insert(OWNER.to_owned(), s(o));
    }
    if let Some(r) = &it.requested_by {
        m.insert(REQUESTED_BY.to_owned(), s(r));
    }
    m
}

fn session_from_item(item: &Item) -> Result<SessionItem> {
    let status = get_s(item, STATUS)?;
    Ok(SessionItem {
        username: get_username(item)?,
        session_id: get_s(item, SESSION_ID)?,
        owner: get_opt_s(item, OWNER)?,
        epoch: get_n(item, EPOCH)?,
        status: SessionStatus::parse(&status)
            .ok_or_else(|| AwsStoreError::corrupt(format!("session status {status:?}")))?,
        seq: get_n(item, SEQ)?,
        snapshot_seq: get_n(item, SNAPSHOT_SEQ)?,
        requested_by: get_opt_s(item, REQUESTED_BY)?,
        last_access: get_n(item, LAST_ACCESS)?,
        // An item holding a journal tail keeps its lease out of the TTL attribute.
        expires_at: if item.contains_key(EXPIRES_AT) {
            get_n(item, EXPIRES_AT)?
        } else {
            get_n(item, tail::LEASE_UNTIL)?
        },
    })
}

fn entry_to_item(username: &Username, e: &JournalEntry) -> Item {
    let mut m = HashMap::from([
        (USERNAME.to_owned(), s(username.storage_key())),
        (SEQ.to_owned(), n(e.seq)),
        (REQUEST_ID.to_owned(), s(&e.request_id)),
        (AT_MS.to_owned(), n(e.at_ms)),
        (SCHEMA_FINGERPRINT.to_owned(), s(&e.schema_fingerprint)),
    ]);
    match &e.payload {
        JournalPayload::Inline(b) => {
            m.insert(
                PAYLOAD.to_owned(),
                AttributeValue::B(DdbBlob::new(b.to_vec())),
            );
        }
        JournalPayload::Spilled { blob_key, len } => {
            m.insert(SPILL_KEY.to_owned(), s(blob_key));
            m.insert(SPILL_LEN.to_owned(), n(*len));
        }
    }
    m
}

fn entry_from_item(item: &Item) -> Result<JournalEntry> {
    let payload = match (item.get(PAYLOAD), item.get(SPILL_KEY)) {
        (Some(AttributeValue::B(b)), None) => {
            JournalPayload::Inline(Bytes::copy_from_slice(b.as_ref()))
        }
        (None, Some(_)) => JournalPayload::Spilled {
            blob_key: get_s(item, SPILL_KEY)?,
            len: get_n(item, SPILL_LEN)?,
        },
        (p, k) => {
            return Err(AwsStoreError::corrupt(format!(
                "journal item needs exactly one of payload (B) / spill_key, found {p:?} / {k:?}"
            )));
        }
    };
    Ok(JournalEntry {
        seq: get_n(item, SEQ)?,
        payload,
        request_id: get_s(item, REQUEST_ID)?,
        at_ms: get_n(item, AT_MS)?,
        schema_fingerprint: get_s(item, SCHEMA_FINGERPRINT)?,
    })
}

/// `ClientRequestToken` (at most 36 characters) of a commit: the same request retried maps to
/// the same token, so DynamoDB applies it once within its 10-minute idempotency window.
fn commit_token(username: &Username, entry: &JournalEntry) -> String {
    let mut h = Sha256::new();
    for part in [
        username.storage_key().as_bytes(),
        entry.request_id.as_bytes(),
        &entry.seq.to_be_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())[..36].to_owned()
}

/// [`UserStore`] and [`SessionStore`] on the three DynamoDB tables.
pub struct DynamoStore {
    client: Client,
    users_table: String,
    sessions_table: String,
    journal_table: String,
    metrics: Arc<Metrics>,
    /// Each user's session-item tail as last seen here ([`tail`]).
    tails: tail::TailMemo,
}

impl DynamoStore {
    pub fn new(
        client: Client,
        users_table: impl Into<String>,
        sessions_table: impl Into<String>,
        journal_table: impl Into<String>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            users_table: users_table.into(),
            sessions_table: sessions_table.into(),
            journal_table: journal_table.into(),
            metrics,
            tails: tail::TailMemo::default(),
        }
    }

    async fn get_item(&self, table: &str, key: Item, op: &'static str) -> Result<Option<Item>> {
        Metrics::incr(&self.metrics.table_read);
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", op, e))?;
        Ok(out.item)
    }

    /// A conditional `PutItem`; on a failed condition, the item found instead (if any).
    async fn conditional_put(
        &self,
        table: &str,
        item: Item,
        condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> Result<std::result::Result<(), Option<Item>>> {
        Metrics::incr(&self.metrics.table_write);
        let res = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_conditional_check_failed_exception() => {
                    let found = match se {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item().cloned()
                        }
                        _ => None,
                    };
                    Ok(Err(found))
                }
                _ => Err(sdk_error("dynamodb", "PutItem", e)),
            },
        }
    }

    /// The user item and its folded-name claim in one transaction. A registration needs both
    /// absent; a migrated user only its own item (the claim is written unconditionally: it
    /// only says "taken").
    async fn create_user(&self, user: &UserRecord, migrated: bool) -> Result<bool> {
        let item = user_to_item(user);
        let absent = |b: aws_sdk_dynamodb::types::builders::PutBuilder| {
            b.condition_expression("attribute_not_exists(#u)")
                .expression_attribute_names("#u", USERNAME)
        };
        let put_user = absent(
            Put::builder()
                .table_name(&self.users_table)
                .set_item(Some(item.clone())),
        )
        .build()
        .map_err(|e| AwsStoreError::InvalidArgument(e.to_string()))?;
        let claim = Put::builder()
            .table_name(&self.users_table)
            .set_item(Some(HashMap::from([
                (USERNAME.to_owned(), name_claim_key(&user.username)),
                (CLAIMED_BY.to_owned(), s(user.username.storage_key())),
            ])));
        let claim = if migrated { claim } else { absent(claim) }
            .build()
            .map_err(|e| AwsStoreError::InvalidArgument(e.to_string()))?;
        let mut attempt = 0u32;
        loop {
            Metrics::incr(&self.metrics.table_write);
            let res = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put_user.clone()).build())
                .transact_items(TransactWriteItem::builder().put(claim.clone()).build())
                .client_request_token(user_token(user, migrated))
                .send()
                .await;
            let err = match res {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(tc)) => {
                    let codes: Vec<&str> = tc
                        .cancellation_reasons()
                        .iter()
                        .filter_map(|r| r.code())
                        .collect();
                    if codes.contains(&"ConditionalCheckFailed") {
                        // An identical item is our own earlier attempt, retried by the SDK
                        // past the token's window.
                        let key =
                            HashMap::from([(USERNAME.to_owned(), s(user.username.storage_key()))]);
                        let found = self.get_item(&self.users_table, key, "GetItem").await?;
                        return Ok(found.as_ref() == Some(&item));
                    }
                    // Racing registrations of case variants conflict on the claim item:
                    // nothing was applied, so try again until one sees the other's claim.
                    attempt += 1;
                    if attempt >= 8 {
                        return Err(AwsStoreError::Unavailable {
                            service: "dynamodb",
                            operation: "TransactWriteItems",
                            message: format!("user creation cancelled: {codes:?}"),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(10 << attempt.min(5))).await;
                }
                _ => return Err(sdk_error("dynamodb", "TransactWriteItems", err)),
            }
        }
    }

    /// Items of `username`'s journal with `lo <= seq <= hi`, all pages.
    async fn query_journal(
        &self,
        username: &Username,
        lo: u64,
        hi: u64,
        keys_only: bool,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            Metrics::incr(&self.metrics.table_read);
            let mut q = self
                .client
                .query()
                .table_name(&self.journal_table)
                .consistent_read(true)
                .key_condition_expression("#u = :u AND #q BETWEEN :lo AND :hi")
                .expression_attribute_names("#u", USERNAME)
                .expression_attribute_names("#q", SEQ)
                .expression_attribute_values(":u", s(username.storage_key()))
                .expression_attribute_values(":lo", n(lo))
                .expression_attribute_values(":hi", n(hi))
                .scan_index_forward(true)
                .set_exclusive_start_key(start.take());
            if keys_only {
                q = q.projection_expression("#u, #q");
            }
            let out = q
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb", "Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    async fn trim_inner(&self, username: &Username, upto: u64) -> Result<()> {
        if upto == 0 {
            return Ok(());
        }
        let keys = self.query_journal(username, 0, upto, true).await?;
        for chunk in keys.chunks(BATCH_WRITE_MAX) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    let key = k
                        .iter()
                        .filter(|(name, _)| name.as_str() == USERNAME || name.as_str() == SEQ)
                        .map(|(name, v)| (name.clone(), v.clone()))
                        .collect();
                    DeleteRequest::builder()
                        .set_key(Some(key))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(AwsStoreError::build("journal DeleteRequest"))
                })
                .collect::<Result<_>>()?;
            let mut attempt = 0u32;
            Metrics::add(&self.metrics.table_write_units, pending.len() as u64);
            while !pending.is_empty() {
                Metrics::incr(&self.metrics.table_write);
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.journal_table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("dynamodb", "BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.journal_table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                attempt += 1;
                if attempt > 6 {
                    return Err(AwsStoreError::Unavailable {
                        service: "dynamodb",
                        operation: "BatchWriteItem",
                        message: format!("{} deletes still unprocessed", pending.len()),
                    });
                }
                // Unprocessed items mean throttling: back off as the SDK would.
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_if_absent(&self, user: &UserRecord) -> StoreResult<bool> {
        Ok(self.create_user(user, false).await?)
    }

    async fn create_migrated(&self, user: &UserRecord) -> StoreResult<bool> {
        Ok(self.create_user(user, true).await?)
    }

    async fn name_taken(&self, username: &Username) -> StoreResult<bool> {
        for key in [s(username.storage_key()), name_claim_key(username)] {
            let key = HashMap::from([(USERNAME.to_owned(), key)]);
            if self
                .get_item(&self.users_table, key, "GetItem")
                .await?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn get(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        let key = HashMap::from([(USERNAME.to_owned(), s(username.storage_key()))]);
        let item = self.get_item(&self.users_table, key, "GetItem").await?;
        Ok(item.as_ref().map(user_from_item).transpose()?)
    }

    async fn update_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let res = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key(USERNAME, s(username.storage_key()))
            .condition_expression("#p = :expected")
            .update_expression("SET #p = :new")
            .expression_attribute_names("#p", PASSWORD_HASH)
            .expression_attribute_values(":expected", s(expected))
            .expression_attribute_values(":new", s(new_hash))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(e) = res else { return Ok(()) };
        // The SDK retried a swap that had already landed: the hash found is ours.
        let found = condition_failure(e)?;
        let ours = found
            .as_ref()
            .is_some_and(|it| get_s(it, PASSWORD_HASH).is_ok_and(|h| h == new_hash));
        if ours {
            Ok(())
        } else {
            Err(AwsStoreError::ConditionFailed.into())
        }
    }
    async fn revoke_token(
        &self,
        username: &Username,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        let element = revoked_element(jti, expires_at);
        Metrics::incr(&self.metrics.table_write);
        let res = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key(USERNAME, s(username.storage_key()))
            .update_expression("ADD #r :e")
            .condition_expression("attribute_exists(#u)")
            .expression_attribute_names("#r", REVOKED)
            .expression_attribute_names("#u", USERNAME)
            .expression_attribute_values(":e", AttributeValue::Ss(vec![element]))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            // No user.
            Err(e) => return condition_failure(e).and(Err(AwsStoreError::ConditionFailed.into())),
        };
        // Entries of tokens that expired since are dropped (a set `DELETE` is atomic too).
        let expired: Vec<String> = out
            .attributes
            .as_ref()
            .map(revoked_from_item)
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, exp)| *exp < now)
            .map(|(jti, exp)| revoked_element(&jti, exp))
            .collect();
        if !expired.is_empty() {
            Metrics::incr(&self.metrics.table_write);
            self.client
                .update_item()
                .table_name(&self.users_table)
                .key(USERNAME, s(username.storage_key()))
                .update_expression("DELETE #r :e")
                .expression_attribute_names("#r", REVOKED)
                .expression_attribute_values(":e", AttributeValue::Ss(expired))
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb", "UpdateItem", e))?;
        }
        Ok(())
    }

    async fn revoke_all_tokens(
        &self,
        username: &Username,
        not_before: i64,
        password: Option<(&str, &str)>,
    ) -> StoreResult<()> {
        let mut names = HashMap::from([
            ("#u".to_owned(), USERNAME.to_owned()),
            ("#nb".to_owned(), TOKENS_NOT_BEFORE.to_owned()),
            ("#r".to_owned(), REVOKED.to_owned()),
        ]);
        let mut values = HashMap::from([(":nb".to_owned(), n(not_before))]);
        let (update, condition) = match password {
            Some((expected, new_hash)) => {
                names.insert("#p".into(), PASSWORD_HASH.into());
                values.insert(":expected".into(), s(expected));
                values.insert(":new".into(), s(new_hash));
                (
                    "SET #nb = :nb, #p = :new REMOVE #r",
                    "attribute_exists(#u) AND #p = :expected",
                )
            }
            None => ("SET #nb = :nb REMOVE #r", "attribute_exists(#u)"),
        };
        let found = self
            .update_user(username, update, condition, names, values)
            .await?;
        match (found, password) {
            (None, _) => Ok(()),
            // The SDK retried a change that had already landed.
            (Some(Some(item)), Some((_, new_hash)))
                if get_s(&item, PASSWORD_HASH).is_ok_and(|h| h == new_hash)
                    && get_n::<i64>(&item, TOKENS_NOT_BEFORE).is_ok_and(|nb| nb >= not_before) =>
            {
                Ok(())
            }
            (Some(_), _) => Err(AwsStoreError::ConditionFailed.into()),
        }
    }

    async fn delete_user(&self, username: &Username) -> StoreResult<()> {
        let user_key = HashMap::from([(USERNAME.to_owned(), s(username.storage_key()))]);
        let delete_user = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.users_table)
            .set_key(Some(user_key.clone()))
            .build()
            .map_err(AwsStoreError::build("user Delete"))?;
        // The claim goes only if this user made it: a case variant migrated beside it keeps
        // the name reserved.
        let delete_claim = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.users_table)
            .key(USERNAME, name_claim_key(username))
            .condition_expression("#c = :me")
            .expression_attribute_names("#c", CLAIMED_BY)
            .expression_attribute_values(":me", s(username.storage_key()))
            .build()
            .map_err(AwsStoreError::build("claim Delete"))?;
        Metrics::incr(&self.metrics.table_write);
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete_user).build())
            .transact_items(TransactWriteItem::builder().delete(delete_claim).build())
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => {
                    // Not our claim (or none): the user item alone.
                    Metrics::incr(&self.metrics.table_write);
                    self.client
                        .delete_item()
                        .table_name(&self.users_table)
                        .set_key(Some(user_key))
                        .send()
                        .await
                        .map_err(|e| sdk_error("dynamodb", "DeleteItem", e))?;
                    Ok(())
                }
                _ => Err(sdk_error("dynamodb", "TransactWriteItems", e).into()),
            },
        }
    }
}

fn device_key_to_value(k: &DeviceKey) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        (DK_HASH.to_owned(), s(&k.key_hash)),
        (DK_LABEL.to_owned(), s(&k.label)),
        (DK_CREATED.to_owned(), n(k.created_at)),
        (DK_LAST_USED.to_owned(), n(k.last_used_at)),
    ]))
}

fn device_key_from_value(id: &str, v: &AttributeValue) -> Result<DeviceKey> {
    let AttributeValue::M(m) = v else {
        return Err(AwsStoreError::corrupt(format!(
            "device key {id}: expected M, found {v:?}"
        )));
    };
    Ok(DeviceKey {
        id: id.to_owned(),
        key_hash: get_s(m, DK_HASH)?,
        label: get_s(m, DK_LABEL)?,
        created_at: get_n(m, DK_CREATED)?,
        last_used_at: get_n(m, DK_LAST_USED)?,
    })
}

/// The attribute of a device key id; ids are checked so they cannot name another attribute.
fn device_key_attr(id: &str) -> Result<String> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AwsStoreError::InvalidArgument(format!(
            "device key id {id:?} is not hex"
        )));
    }
    Ok(format!("{DEVICE_KEY_PREFIX}{id}"))
}

impl DynamoStore {
    /// A conditional `UpdateItem` on the user's item. `Ok(Some(old))` with the item found when
    /// the condition failed, `Ok(None)` when the update applied.
    async fn update_user(
        &self,
        username: &Username,
        update: &str,
        condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> StoreResult<Option<Option<Item>>> {
        Metrics::incr(&self.metrics.table_write);
        let res = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key(USERNAME, s(username.storage_key()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(None),
            Err(e) => condition_failure(e).map(Some),
        }
    }
}

#[async_trait]
impl DeviceKeyStore for DynamoStore {
    async fn put_device_key(&self, username: &Username, key: &DeviceKey) -> StoreResult<()> {
        let attr = device_key_attr(&key.id)?;
        let value = device_key_to_value(key);
        let found = self
            .update_user(
                username,
                "SET #k = :v",
                "attribute_exists(#u) AND attribute_not_exists(#k)",
                HashMap::from([
                    ("#u".to_owned(), USERNAME.to_owned()),
                    ("#k".to_owned(), attr.clone()),
                ]),
                HashMap::from([(":v".to_owned(), value.clone())]),
            )
            .await?;
        match found {
            None => Ok(()),
            // The SDK retried a put that had already landed: the key found is ours.
            Some(Some(item)) if item.get(&attr) == Some(&value) => Ok(()),
            Some(_) => Err(AwsStoreError::ConditionFailed.into()),
        }
    }

    async fn device_keys(&self, username: &Username) -> StoreResult<Vec<DeviceKey>> {
        let key = HashMap::from([(USERNAME.to_owned(), s(username.as_str()))]);
        let Some(item) = self.get_item(&self.users_table, key, "GetItem").await? else {
            return Ok(Vec::new());
        };
        let mut keys = item
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(DEVICE_KEY_PREFIX).map(|id| (id, v)))
            .map(|(id, v)| device_key_from_value(id, v))
            .collect::<Result<Vec<_>>>()?;
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(keys)
    }

    async fn delete_device_key(&self, username: &Username, id: &str) -> StoreResult<bool> {
        let attr = device_key_attr(id)?;
        let found = self
            .update_user(
                username,
                "REMOVE #k",
                "attribute_exists(#k)",
                HashMap::from([("#k".to_owned(), attr)]),
                HashMap::new(),
            )
            .await?;
        Ok(found.is_none())
    }

    async fn touch_device_key(&self, username: &Username, id: &str, at_ms: i64) -> StoreResult<()> {
        let attr = device_key_attr(id)?;
        // Conditional on the key existing, so a touch racing a revocation cannot resurrect a
        // partial key; a failed condition is fine (revoked, or a later touch won).
        self.update_user(
            username,
            "SET #k.#t = :t",
            "attribute_exists(#k) AND #k.#t < :t",
            HashMap::from([
                ("#k".to_owned(), attr),
                ("#t".to_owned(), DK_LAST_USED.to_owned()),
            ]),
            HashMap::from([(":t".to_owned(), n(at_ms))]),
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn get(&self, username: &Username) -> StoreResult<Option<SessionItem>> {
        let item = self.session_item(username).await?;
        Ok(item.as_ref().map(session_from_item).transpose()?)
    }

    async fn put(&self, item: &SessionItem, expect: SessionExpect) -> StoreResult<()> {
        Ok(self.put_session(item, expect).await?)
    }

    async fn commit(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        Ok(self
            .commit_inner(username, fence, entry, last_access, expires_at)
            .await?)
    }

    async fn journal(
        &self,
        username: &Username,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<JournalEntry>> {
        Metrics::incr(&self.metrics.journal_read);
        if after >= upto {
            return Ok(Vec::new());
        }
        Ok(self.journal_inner(username, after, upto).await?)
    }

    async fn trim_journal(&self, username: &Username, upto: u64) -> StoreResult<()> {
        Ok(self.trim_with_tail(username, upto).await?)
    }

    async fn delete_session(&self, username: &Username) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        self.client
            .delete_item()
            .table_name(&self.sessions_table)
            .key(USERNAME, s(username.storage_key()))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "DeleteItem", e))?;
        self.tails.set(username, None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Username {
        Username::parse("alice").unwrap()
    }

    #[test]
    fn session_item_round_trips_with_and_without_owner() {
        let mut it = SessionItem {
            username: user(),
            session_id: "sid".into(),
            owner: Some("c1".into()),
            epoch: 3,
            status: SessionStatus::FlushRequested,
            seq: u64::MAX,
            snapshot_seq: 7,
            requested_by: Some("c2".into()),
            last_access: -5,
            expires_at: 1_900_000_000,
        };
        assert_eq!(session_from_item(&session_to_item(&it)).unwrap(), it);
        it.owner = None;
        it.requested_by = None;
        let item = session_to_item(&it);
        assert!(!item.contains_key(OWNER));
        assert_eq!(session_from_item(&item).unwrap(), it);
    }

    #[test]
    fn journal_entry_round_trips_inline_and_spilled() {
        for payload in [
            JournalPayload::Inline(Bytes::from_static(b"\x28\xb5\x2f\xfd")),
            JournalPayload::Spilled {
                blob_key: "journal/alice/4".into(),
                len: 400_000,
            },
        ] {
            let e = JournalEntry {
                seq: 4,
                payload,
                request_id: "r".into(),
                at_ms: 1,
                schema_fingerprint: "fp".into(),
            };
            assert_eq!(entry_from_item(&entry_to_item(&user(), &e)).unwrap(), e);
        }
    }

    #[test]
    fn corrupt_items_are_errors_not_panics() {
        let mut item = session_to_item(&SessionItem {
            username: user(),
            session_id: "sid".into(),
            owner: None,
            epoch: 0,
            status: SessionStatus::Active,
            seq: 0,
            snapshot_seq: 0,
            requested_by: None,
            last_access: 0,
            expires_at: 0,
        });
        item.insert(STATUS.into(), s("bogus"));
        assert!(matches!(
            session_from_item(&item),
            Err(AwsStoreError::Corrupt { .. })
        ));
        item.insert(EPOCH.into(), n("-1"));
        assert!(session_from_item(&item).is_err());
        let both = HashMap::from([
            (PAYLOAD.to_owned(), AttributeValue::B(DdbBlob::new(vec![1]))),
            (SPILL_KEY.to_owned(), s("k")),
        ]);
        assert!(entry_from_item(&both).is_err());
    }

    #[test]
    fn commit_token_is_stable_bounded_and_distinct() {
        let e = |seq, rid: &str| JournalEntry {
            seq,
            payload: JournalPayload::Inline(Bytes::new()),
            request_id: rid.into(),
            at_ms: 0,
            schema_fingerprint: String::new(),
        };
        let t = commit_token(&user(), &e(1, "r"));
        assert_eq!(t.len(), 36);
        assert_eq!(t, commit_token(&user(), &e(1, "r")));
        assert_ne!(t, commit_token(&user(), &e(2, "r")));
        assert_ne!(
            t,
            commit_token(&Username::parse("bob").unwrap(), &e(1, "r"))
        );
    }
}
