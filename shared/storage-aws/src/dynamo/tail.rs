//! The fenced commit in two write units (`docs/ARCHITECTURE.md#the-journal-tail-rides-in-the-session-item`).
//!
//! A `TransactWriteItems` of the session update and the journal put costs 2 WRU per item: 4 WRU
//! for every acknowledged write. Here a small entry (the session item then stays within one
//! 1 KB write unit: a card answer, an edit) is committed by **one conditional `UpdateItem` of
//! the session item that carries the entry itself** as its *tail* (`tail_*` attributes). The
//! tail is copied into the journal table by the next commit (or `put`, or a trim) *before* it
//! is replaced: a plain `PutItem` of an entry that is already committed. So a write costs one
//! journal put (the previous entry) and one session update: 2 WRU, with the same fence and the
//! same atomicity — the entry and the seq that makes it visible change in one item write.
//!
//! Invariants, kept by every writer of the session item:
//! - a tail, when present, is the entry at the item's `seq`; every entry below it is in the
//!   journal table (or trimmed);
//! - a tail is only ever removed or replaced after it is in the journal table (the
//!   conditions name the tail the writer copied, by seq and request id);
//! - an item holding a tail has no TTL attribute (`expires_at`): DynamoDB's TTL deletes an
//!   expired item, and the tail may be the only copy of an acknowledged write. The lease is
//!   then kept in `lease_until`; an item without a tail keeps it in `expires_at`, as before.
//!
//! Entries too large for the item, and spilled ones, keep the transaction (which also moves the
//! tail, if any, into the journal first).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use bytes::Bytes;
use javumbo_session::{
    Fence, JournalEntry, JournalPayload, Metrics, SessionExpect, SessionItem, SessionStatus,
    Username,
};

use super::{
    DynamoStore, EPOCH, EXPIRES_AT, Item, LAST_ACCESS, OWNER, REQUEST_ID, SEQ, STATUS, USERNAME,
    commit_token, entry_from_item, entry_to_item, get_n, get_s, n, s, session_from_item,
};
use crate::error::{AwsStoreError, Result, describe, sdk_error};

pub(super) const TAIL_SEQ: &str = "tail_seq";
const TAIL_RID: &str = "tail_rid";
const TAIL_AT: &str = "tail_at";
const TAIL_FP: &str = "tail_fp";
const TAIL_PAYLOAD: &str = "tail_payload";
/// The lease (`SessionItem::expires_at`) while the item holds a tail and must not expire.
pub(super) const LEASE_UNTIL: &str = "lease_until";

/// One DynamoDB write unit: an item write up to this size costs 1 WRU.
const WRITE_UNIT: usize = 1024;
/// Room left for what a commit does not know exactly (a `requested_by`, longer numbers).
const SIZE_MARGIN: usize = 64;
/// Tails remembered per container; past this the memo starts over (it is only a shortcut).
const MEMO_MAX: usize = 4096;

/// The tail each user's item held when this container last read or wrote it. Only a shortcut:
/// a commit whose memo is wrong fails its condition and learns the item's real tail.
#[derive(Debug, Default)]
pub(super) struct TailMemo(Mutex<HashMap<String, JournalEntry>>);

impl TailMemo {
    fn at(&self, user: &Username, seq: u64) -> Option<JournalEntry> {
        let memo = self.0.lock().unwrap_or_else(|p| p.into_inner());
        memo.get(user.storage_key())
            .filter(|t| t.seq == seq)
            .cloned()
    }

    pub(super) fn set(&self, user: &Username, tail: Option<JournalEntry>) {
        let mut memo = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match tail {
            Some(t) => {
                if memo.len() >= MEMO_MAX {
                    memo.clear();
                }
                memo.insert(user.storage_key().to_owned(), t);
            }
            None => {
                memo.remove(user.storage_key());
            }
        }
    }
}

/// The tail an item carries, if any.
pub(super) fn tail_from_item(item: &Item) -> Result<Option<JournalEntry>> {
    if !item.contains_key(TAIL_SEQ) {
        return Ok(None);
    }
    let payload = match item.get(TAIL_PAYLOAD) {
        Some(AttributeValue::B(b)) => Bytes::copy_from_slice(b.as_ref()),
        other => {
            return Err(AwsStoreError::corrupt(format!(
                "attribute {TAIL_PAYLOAD}: expected B, found {other:?}"
            )));
        }
    };
    Ok(Some(JournalEntry {
        seq: get_n(item, TAIL_SEQ)?,
        payload: JournalPayload::Inline(payload),
        request_id: get_s(item, TAIL_RID)?,
        at_ms: get_n(item, TAIL_AT)?,
        schema_fingerprint: get_s(item, TAIL_FP)?,
    }))
}

/// DynamoDB's size of an attribute value (names are counted by the caller): strings and
/// binaries by length, numbers at one byte per two digits plus one, containers with their
/// 3-byte overhead. Slightly generous, never short.
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(x) => x.len(),
        AttributeValue::N(x) => x.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|x| x.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + 1 + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        _ => 1,
    }
}

/// The size DynamoDB bills an item write by.
pub(super) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Write units of an item write of `size` bytes (at least one).
pub(super) fn write_units(size: usize) -> u64 {
    size.div_ceil(WRITE_UNIT).max(1) as u64
}

/// The session item after a commit that carries `entry` as its tail, sized as DynamoDB bills
/// it (the session id and a `requested_by` are not known here: counted at their longest).
fn committed_item_size(user: &Username, fence: &Fence, entry: &JournalEntry, la: i64) -> usize {
    let JournalPayload::Inline(payload) = &entry.payload else {
        return usize::MAX;
    };
    let item: Item = HashMap::from([
        (USERNAME.to_owned(), s(user.storage_key())),
        (super::SESSION_ID.to_owned(), s("x".repeat(64))),
        (OWNER.to_owned(), s(&fence.owner)),
        (super::REQUESTED_BY.to_owned(), s(&fence.owner)),
        (EPOCH.to_owned(), n(fence.epoch)),
        (STATUS.to_owned(), s("flush_requested")),
        (SEQ.to_owned(), n(entry.seq)),
        (super::SNAPSHOT_SEQ.to_owned(), n(entry.seq)),
        (LAST_ACCESS.to_owned(), n(la)),
        (LEASE_UNTIL.to_owned(), n(i64::MAX)),
        (TAIL_SEQ.to_owned(), n(entry.seq)),
        (TAIL_RID.to_owned(), s(&entry.request_id)),
        (TAIL_AT.to_owned(), n(entry.at_ms)),
        (TAIL_FP.to_owned(), s(&entry.schema_fingerprint)),
        (
            TAIL_PAYLOAD.to_owned(),
            AttributeValue::B(DdbBlob::new(payload.to_vec())),
        ),
    ]);
    item_size(&item) + SIZE_MARGIN
}

/// Condition that the item holds no tail, or exactly the one this writer copied (DynamoDB
/// refuses unused attribute names, so only what the condition uses is added).
fn tail_condition(
    copied: Option<&JournalEntry>,
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> &'static str {
    names.insert("#ts".into(), TAIL_SEQ.into());
    match copied {
        None => "attribute_not_exists(#ts)",
        Some(t) => {
            names.insert("#tr".into(), TAIL_RID.into());
            values.insert(":cts".into(), n(t.seq));
            values.insert(":ctr".into(), s(&t.request_id));
            "(attribute_not_exists(#ts) OR (#ts = :cts AND #tr = :ctr))"
        }
    }
}

/// The placeholders every tail-moving update names: the lease and TTL attributes and the
/// tail's own (`#ts` is the condition's, see [`tail_condition`]).
fn tail_attr_names() -> HashMap<String, String> {
    [
        ("#la", LAST_ACCESS),
        ("#lu", LEASE_UNTIL),
        ("#ex", EXPIRES_AT),
        ("#ts", TAIL_SEQ),
        ("#tr", TAIL_RID),
        ("#ta", TAIL_AT),
        ("#tf", TAIL_FP),
        ("#tp", TAIL_PAYLOAD),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// What a failed fenced write found.
enum Found {
    /// No item.
    Nothing,
    /// The item as it is.
    Item(Item),
}

impl DynamoStore {
    /// Put an already committed entry (an item's tail) into the journal table. Idempotent; the
    /// condition only refuses to overwrite a *different* entry at that seq (a memo gone stale).
    async fn copy_tail(&self, user: &Username, tail: &JournalEntry) -> Result<()> {
        let item = entry_to_item(user, tail);
        Metrics::add(
            &self.metrics.table_write_units,
            write_units(item_size(&item)),
        );
        match self
            .conditional_put(
                &self.journal_table,
                item,
                "attribute_not_exists(#q) OR #r = :r",
                HashMap::from([
                    ("#q".to_owned(), SEQ.to_owned()),
                    ("#r".to_owned(), REQUEST_ID.to_owned()),
                ]),
                HashMap::from([(":r".to_owned(), s(&tail.request_id))]),
            )
            .await?
        {
            Ok(()) => Ok(()),
            Err(_) => {
                self.tails.set(user, None);
                Err(AwsStoreError::Unavailable {
                    service: "dynamodb",
                    operation: "PutItem",
                    message: format!(
                        "journal entry {} of {user} is not the tail this container remembered",
                        tail.seq
                    ),
                })
            }
        }
    }

    /// The fenced commit (`SessionStore::commit`).
    pub(super) async fn commit_inner(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
    ) -> Result<()> {
        Metrics::incr(&self.metrics.journal_commit);
        if entry.seq != fence.seq + 1 {
            return Err(AwsStoreError::ConditionFailed);
        }
        let inline = committed_item_size(username, fence, entry, last_access) <= WRITE_UNIT;
        // The tail this container saw at the fence's seq goes to the journal table first.
        let mut copied = self.tails.at(username, fence.seq);
        if let Some(t) = &copied {
            self.copy_tail(username, t).await?;
        }
        // Twice at most: a second pass only when the item held a tail this container had not
        // seen (its memo was behind), now copied.
        for _ in 0..2 {
            let outcome = if inline {
                self.update_with_tail(
                    username,
                    fence,
                    entry,
                    last_access,
                    expires_at,
                    copied.as_ref(),
                )
                .await?
            } else {
                self.transact_commit(
                    username,
                    fence,
                    entry,
                    last_access,
                    expires_at,
                    copied.as_ref(),
                )
                .await?
            };
            let found = match outcome {
                None => {
                    self.tails.set(username, inline.then(|| entry.clone()));
                    return Ok(());
                }
                Some(Found::Nothing) => return Err(AwsStoreError::ConditionFailed),
                Some(Found::Item(item)) => item,
            };
            let current = session_from_item(&found)?;
            let tail = tail_from_item(&found)?;
            if current.seq >= entry.seq {
                // Past the fence: ours if our entry is there (a retry of a commit that landed).
                return if self.landed(username, entry, tail.as_ref()).await? {
                    Ok(())
                } else {
                    Err(AwsStoreError::ConditionFailed)
                };
            }
            let fence_holds = current.owner.as_deref() == Some(fence.owner.as_str())
                && current.epoch == fence.epoch
                && current.seq == fence.seq
                && current.status == SessionStatus::Active;
            match tail {
                Some(t)
                    if fence_holds
                        && t.seq == fence.seq
                        && copied.as_ref().is_none_or(|c| c.request_id != t.request_id) =>
                {
                    self.copy_tail(username, &t).await?;
                    self.tails.set(username, Some(t.clone()));
                    copied = Some(t);
                }
                _ => return Err(AwsStoreError::ConditionFailed),
            }
        }
        Err(AwsStoreError::Unavailable {
            service: "dynamodb",
            operation: "UpdateItem",
            message: "the session's tail kept changing".into(),
        })
    }

    /// Whether `entry` is committed: the item's tail, or in the journal table.
    async fn landed(
        &self,
        username: &Username,
        entry: &JournalEntry,
        tail: Option<&JournalEntry>,
    ) -> Result<bool> {
        if let Some(t) = tail
            && t.seq == entry.seq
        {
            return Ok(t.request_id == entry.request_id);
        }
        let key = HashMap::from([
            (USERNAME.to_owned(), s(username.storage_key())),
            (SEQ.to_owned(), n(entry.seq)),
        ]);
        let found = self.get_item(&self.journal_table, key, "GetItem").await?;
        Ok(found.is_some_and(|it| get_s(&it, REQUEST_ID).is_ok_and(|r| r == entry.request_id)))
    }

    fn fence_condition(
        fence: &Fence,
        copied: Option<&JournalEntry>,
        names: &mut HashMap<String, String>,
        values: &mut HashMap<String, AttributeValue>,
    ) -> String {
        names.extend([
            ("#o".to_owned(), OWNER.to_owned()),
            ("#e".to_owned(), EPOCH.to_owned()),
            ("#q".to_owned(), SEQ.to_owned()),
            ("#st".to_owned(), STATUS.to_owned()),
        ]);
        values.extend([
            (":owner".to_owned(), s(&fence.owner)),
            (":epoch".to_owned(), n(fence.epoch)),
            (":seq".to_owned(), n(fence.seq)),
            (":active".to_owned(), s(SessionStatus::Active.as_str())),
        ]);
        let tail = tail_condition(copied, names, values);
        format!("#o = :owner AND #e = :epoch AND #q = :seq AND #st = :active AND {tail}")
    }

    /// The small-entry commit: one `UpdateItem` carrying the entry as the new tail. `None`
    /// when it applied, else what the condition found.
    async fn update_with_tail(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
        copied: Option<&JournalEntry>,
    ) -> Result<Option<Found>> {
        let JournalPayload::Inline(payload) = &entry.payload else {
            return Err(AwsStoreError::InvalidArgument(
                "a spilled entry cannot ride in the session item".into(),
            ));
        };
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let condition = Self::fence_condition(fence, copied, &mut names, &mut values);
        names.extend(tail_attr_names());
        values.extend([
            (":next".to_owned(), n(entry.seq)),
            (":la".to_owned(), n(last_access)),
            (":lu".to_owned(), n(expires_at)),
            (":rid".to_owned(), s(&entry.request_id)),
            (":at".to_owned(), n(entry.at_ms)),
            (":fp".to_owned(), s(&entry.schema_fingerprint)),
            (
                ":payload".to_owned(),
                AttributeValue::B(DdbBlob::new(payload.to_vec())),
            ),
        ]);
        Metrics::incr(&self.metrics.table_write);
        Metrics::add(&self.metrics.table_write_units, 1);
        let res = self
            .client
            .update_item()
            .table_name(&self.sessions_table)
            .key(USERNAME, s(username.storage_key()))
            .condition_expression(condition)
            .update_expression(
                "SET #q = :next, #la = :la, #lu = :lu, #ts = :next, #tr = :rid, #ta = :at, \
                 #tf = :fp, #tp = :payload REMOVE #ex",
            )
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Some(c.item().cloned().map_or(Found::Nothing, Found::Item)))
                }
                _ => Err(sdk_error("dynamodb", "UpdateItem", e)),
            },
        }
    }

    /// The large-entry commit: the journal put and the session update in one transaction,
    /// which also leaves the item without a tail (the copied one is in the journal table).
    async fn transact_commit(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
        copied: Option<&JournalEntry>,
    ) -> Result<Option<Found>> {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let condition = Self::fence_condition(fence, copied, &mut names, &mut values);
        names.extend(tail_attr_names());
        values.extend([
            (":next".to_owned(), n(entry.seq)),
            (":la".to_owned(), n(last_access)),
            (":ex".to_owned(), n(expires_at)),
        ]);
        let update = Update::builder()
            .table_name(&self.sessions_table)
            .key(USERNAME, s(username.storage_key()))
            .condition_expression(condition)
            .update_expression(
                "SET #q = :next, #la = :la, #ex = :ex REMOVE #lu, #ts, #tr, #ta, #tf, #tp",
            )
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(AwsStoreError::build("session Update"))?;
        // The fence already rules out an existing entry at `seq + 1`; the condition keeps a
        // bug elsewhere from silently overwriting history.
        let journal_item = entry_to_item(username, entry);
        let units = 2 * (1 + write_units(item_size(&journal_item)));
        let put = Put::builder()
            .table_name(&self.journal_table)
            .set_item(Some(journal_item))
            .condition_expression("attribute_not_exists(#q)")
            .expression_attribute_names("#q", SEQ)
            .build()
            .map_err(AwsStoreError::build("journal Put"))?;
        Metrics::incr(&self.metrics.table_write);
        Metrics::add(&self.metrics.table_write_units, units);
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .client_request_token(commit_token(username, entry))
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(None),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(tc)) => {
                let reasons = tc.cancellation_reasons();
                let failed = reasons
                    .iter()
                    .any(|r| r.code() == Some("ConditionalCheckFailed"));
                if failed {
                    let session = reasons.first().and_then(|r| r.item()).cloned();
                    return Ok(Some(match session {
                        Some(item) => Found::Item(item),
                        // The session condition held, so the journal put failed: an entry
                        // at that seq exists, which only our own landed attempt can be.
                        None => match self.session_item(username).await? {
                            Some(item) => Found::Item(item),
                            None => Found::Nothing,
                        },
                    }));
                }
                // TransactionConflict / throttling: nothing applied, but the fence may still
                // hold, so this is "try again", not "no".
                let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
                Err(AwsStoreError::Unavailable {
                    service: "dynamodb",
                    operation: "TransactWriteItems",
                    message: format!("transaction cancelled: {codes:?}"),
                })
            }
            Some(TransactWriteItemsError::IdempotentParameterMismatchException(_)) => {
                match self.session_item(username).await? {
                    Some(item) => Ok(Some(Found::Item(item))),
                    None => Err(AwsStoreError::Rejected {
                        service: "dynamodb",
                        operation: "TransactWriteItems",
                        message: describe(&err),
                    }),
                }
            }
            _ => Err(sdk_error("dynamodb", "TransactWriteItems", err)),
        }
    }

    /// The raw session item (consistent read), remembering its tail.
    pub(super) async fn session_item(&self, username: &Username) -> Result<Option<Item>> {
        let key = HashMap::from([(USERNAME.to_owned(), s(username.storage_key()))]);
        let item = self.get_item(&self.sessions_table, key, "GetItem").await?;
        let tail = item.as_ref().map(tail_from_item).transpose()?.flatten();
        self.tails.set(username, tail);
        Ok(item)
    }

    /// `SessionStore::put`: the whole item, conditionally. An item holding a tail is replaced
    /// only once the tail is in the journal table.
    pub(super) async fn put_session(
        &self,
        item: &SessionItem,
        expect: SessionExpect,
    ) -> Result<()> {
        let user = &item.username;
        let mut names = HashMap::from([("#u".to_owned(), USERNAME.to_owned())]);
        let mut values = HashMap::new();
        let version = match &expect {
            SessionExpect::Absent => None,
            SessionExpect::Version {
                epoch,
                seq,
                status,
                owner,
            } => {
                names.extend([
                    ("#e".to_owned(), EPOCH.to_owned()),
                    ("#q".to_owned(), SEQ.to_owned()),
                    ("#st".to_owned(), STATUS.to_owned()),
                    ("#o".to_owned(), OWNER.to_owned()),
                ]);
                values.extend([
                    (":epoch".to_owned(), n(epoch)),
                    (":seq".to_owned(), n(seq)),
                    (":status".to_owned(), s(status.as_str())),
                ]);
                let owner_cond = match owner {
                    Some(o) => {
                        values.insert(":owner".into(), s(o));
                        "#o = :owner"
                    }
                    None => "attribute_not_exists(#o)",
                };
                Some((
                    *seq,
                    format!(
                        "attribute_exists(#u) AND #e = :epoch AND #q = :seq AND #st = :status AND {owner_cond}"
                    ),
                ))
            }
        };
        let new_item = super::session_to_item(item);
        let units = write_units(item_size(&new_item));
        let mut copied = version
            .as_ref()
            .and_then(|(seq, _)| self.tails.at(user, *seq));
        if let Some(t) = &copied {
            self.copy_tail(user, t).await?;
        }
        for _ in 0..2 {
            let (mut names, mut values) = (names.clone(), values.clone());
            let condition = match &version {
                None => "attribute_not_exists(#u)".to_owned(),
                Some((_, base)) => format!(
                    "{base} AND {}",
                    tail_condition(copied.as_ref(), &mut names, &mut values)
                ),
            };
            Metrics::add(&self.metrics.table_write_units, units);
            let found = match self
                .conditional_put(
                    &self.sessions_table,
                    new_item.clone(),
                    &condition,
                    names,
                    values,
                )
                .await?
            {
                Ok(()) => {
                    self.tails.set(user, None);
                    return Ok(());
                }
                // The exact item we meant to write is there: our first attempt landed.
                Err(Some(found)) if found == new_item => return Ok(()),
                Err(Some(found)) => found,
                Err(None) => return Err(AwsStoreError::ConditionFailed),
            };
            // The version held but the item carried a tail this container had not copied.
            let holds = matches!(&expect, SessionExpect::Version { .. })
                && SessionExpect::matching(&session_from_item(&found)?) == expect;
            match tail_from_item(&found)? {
                Some(t)
                    if holds && copied.as_ref().is_none_or(|c| c.request_id != t.request_id) =>
                {
                    self.copy_tail(user, &t).await?;
                    copied = Some(t);
                }
                _ => return Err(AwsStoreError::ConditionFailed),
            }
        }
        Err(AwsStoreError::ConditionFailed)
    }

    /// `SessionStore::journal`: the journal table's entries in `(after, upto]`, plus the item's
    /// tail when it falls in the range. The tail is read *before* the table: every entry below
    /// a tail is in the table by the time the tail is there.
    pub(super) async fn journal_inner(
        &self,
        username: &Username,
        after: u64,
        upto: u64,
    ) -> Result<Vec<JournalEntry>> {
        // The request path reads the item just before (acquire), so the tail at `upto` is
        // usually known: a catch-up by one entry reads nothing more.
        let tail = match self.tails.at(username, upto) {
            Some(t) => Some(t),
            None => self
                .session_item(username)
                .await?
                .as_ref()
                .map(tail_from_item)
                .transpose()?
                .flatten(),
        }
        .filter(|t| t.seq > after && t.seq <= upto);
        let hi = tail.as_ref().map_or(upto, |t| t.seq - 1);
        let mut entries = if hi > after {
            self.query_journal(username, after + 1, hi, false)
                .await?
                .iter()
                .map(entry_from_item)
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        entries.extend(tail);
        Ok(entries)
    }

    /// `SessionStore::trim_journal`: the table's entries, and the item's tail when the trim
    /// reaches it (moved off the item without touching what the item says).
    pub(super) async fn trim_with_tail(&self, username: &Username, upto: u64) -> Result<()> {
        self.trim_inner(username, upto).await?;
        let Some(item) = self.session_item(username).await? else {
            return Ok(());
        };
        let Some(tail) = tail_from_item(&item)?.filter(|t| t.seq <= upto) else {
            return Ok(());
        };
        let lease: i64 = get_n(&item, LEASE_UNTIL)?;
        Metrics::incr(&self.metrics.table_write);
        Metrics::add(
            &self.metrics.table_write_units,
            write_units(item_size(&item)),
        );
        let res = self
            .client
            .update_item()
            .table_name(&self.sessions_table)
            .key(USERNAME, s(username.storage_key()))
            .condition_expression("#ts = :ts AND #tr = :tr")
            .update_expression("SET #ex = :ex REMOVE #lu, #ts, #tr, #ta, #tf, #tp")
            .set_expression_attribute_names(Some(
                tail_attr_names()
                    .into_iter()
                    .filter(|(k, _)| k != "#la")
                    .collect(),
            ))
            .set_expression_attribute_values(Some(HashMap::from([
                (":ts".to_owned(), n(tail.seq)),
                (":tr".to_owned(), s(&tail.request_id)),
                (":ex".to_owned(), n(lease)),
            ])))
            .send()
            .await;
        self.tails.set(username, None);
        match res {
            Ok(_) => Ok(()),
            // Someone replaced the tail meanwhile: that one is past the trim.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("dynamodb", "UpdateItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(payload: usize) -> JournalEntry {
        JournalEntry {
            seq: 12_345,
            payload: JournalPayload::Inline(Bytes::from(vec![7u8; payload])),
            request_id: uuid_like(),
            at_ms: 1_790_000_000_000,
            schema_fingerprint: "f".repeat(16),
        }
    }

    fn uuid_like() -> String {
        "0123456789abcdef0123456789abcdef0123".to_owned()
    }

    #[test]
    fn answer_sized_entries_ride_in_the_item_and_large_ones_do_not() {
        let u = Username::parse("student-name-twenty").unwrap();
        let fence = Fence {
            owner: "lambda-review-2026/12/06/[$LATEST]0123456789abcdef0123456789abcdef".into(),
            epoch: 99_999,
            seq: 12_344,
        };
        // A card answer is ~210 bytes of zstd (docs/ARCHITECTURE.md#changesets).
        let small = committed_item_size(&u, &fence, &entry(300), 1_790_000_000_000);
        assert!(small <= WRITE_UNIT, "{small}");
        let big = committed_item_size(&u, &fence, &entry(900), 1_790_000_000_000);
        assert!(big > WRITE_UNIT, "{big}");
        let spilled = JournalEntry {
            payload: JournalPayload::Spilled {
                blob_key: "k".into(),
                len: 1,
            },
            ..entry(0)
        };
        assert_eq!(committed_item_size(&u, &fence, &spilled, 0), usize::MAX);
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item: Item = HashMap::from([
            ("ab".to_owned(), s("xyz")),
            ("n".to_owned(), n(12_345)),
            ("b".to_owned(), AttributeValue::B(DdbBlob::new(vec![0; 10]))),
        ]);
        assert_eq!(item_size(&item), (2 + 3) + (1 + 4) + (1 + 10));
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
    }

    #[test]
    fn tails_round_trip_and_the_memo_answers_only_its_seq() {
        let u = Username::parse("alice").unwrap();
        let e = entry(5);
        let mut item: Item = HashMap::from([
            (TAIL_SEQ.to_owned(), n(e.seq)),
            (TAIL_RID.to_owned(), s(&e.request_id)),
            (TAIL_AT.to_owned(), n(e.at_ms)),
            (TAIL_FP.to_owned(), s(&e.schema_fingerprint)),
        ]);
        let JournalPayload::Inline(p) = &e.payload else {
            unreachable!()
        };
        item.insert(
            TAIL_PAYLOAD.to_owned(),
            AttributeValue::B(DdbBlob::new(p.to_vec())),
        );
        assert_eq!(tail_from_item(&item).unwrap(), Some(e.clone()));
        item.insert(TAIL_PAYLOAD.to_owned(), s("not binary"));
        assert!(tail_from_item(&item).is_err());
        assert_eq!(tail_from_item(&HashMap::new()).unwrap(), None);

        let memo = TailMemo::default();
        memo.set(&u, Some(e.clone()));
        assert_eq!(memo.at(&u, e.seq), Some(e.clone()));
        assert_eq!(memo.at(&u, e.seq + 1), None);
        assert_eq!(memo.at(&Username::parse("bob").unwrap(), e.seq), None);
        memo.set(&u, None);
        assert_eq!(memo.at(&u, e.seq), None);
    }
}
