//! The flush handler driven by SNS events in the shape Lambda delivers them, against the
//! embedded stores.

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use javumbo_flush_handler::{FUNCTION, invoke};
use javumbo_runtime::{FlushContext, Profile, Runtime, Settings};
use javumbo_session::{
    SNAPSHOT_SEQ_META, SessionConfig, SessionItem, SessionManager, SessionStatus, Username,
    snapshot_key,
};
use lambda_runtime::LambdaEvent;
use tempfile::TempDir;

/// A user whose session is active on container `a` with one journaled write not yet in the
/// snapshot, and the flush handler's context on the same stores.
struct Scenario {
    data: TempDir,
    ctx: FlushContext,
    user: Username,
    card_id: i64,
}

fn manager(data: &Path, id: &str, ctx: &FlushContext) -> Arc<SessionManager> {
    let cfg = SessionConfig::new(id, data.join("containers").join(id));
    SessionManager::new(
        cfg,
        ctx.ports.clone(),
        ctx.clock.clone(),
        ctx.metrics.clone(),
    )
}

impl Scenario {
    async fn new() -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        // The flush handler's container as its binary builds it, on the embedded stores.
        let settings = Settings::from_args(
            Profile::Lambda,
            [
                "bootstrap".into(),
                "--backend=local".into(),
                "--data".into(),
                data.path().as_os_str().to_owned(),
            ],
        )
        .expect("settings");
        let rt = Runtime::new(settings, Profile::Lambda, FUNCTION)
            .await
            .expect("embedded backend");
        let ctx = rt.flush_context().expect("embedded stores open");
        let user = Username::parse("alice").expect("valid username");
        let a = manager(data.path(), "container-a", &ctx);
        a.create_collection(&user).await.expect("collection");
        let added = a
            .with_collection(&user, |col| {
                col.add_card("Capital of Kenya?", "Nairobi", None)
            })
            .await
            .expect("card added");
        Self {
            data,
            ctx,
            user,
            card_id: added.value.card_id,
        }
    }

    async fn session(&self) -> SessionItem {
        self.ctx
            .ports
            .sessions
            .get(&self.user)
            .await
            .expect("session store")
            .expect("a session")
    }

    /// The snapshot blob's etag and the journal seq its metadata says it contains.
    async fn snapshot(&self) -> (String, u64) {
        let blob = self
            .ctx
            .ports
            .blobs
            .get(&snapshot_key(&self.user))
            .await
            .expect("blob store")
            .expect("a snapshot");
        let seq = blob.metadata[SNAPSHOT_SEQ_META]
            .parse()
            .expect("numeric seq");
        (blob.etag, seq)
    }

    /// A fixture with this session's id and epoch in its flush requests.
    fn event(&self, name: &str, session: &SessionItem) -> LambdaEvent<SnsEvent> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let text = text
            .replace("{{session_id}}", &session.session_id)
            .replace("{{epoch}}", &session.epoch.to_string());
        let event: SnsEvent = serde_json::from_str(&text).expect("an SNS event");
        assert!(event.records.iter().all(|r| r.event_source == "aws:sns"));
        LambdaEvent::new(event, lambda_runtime::Context::default())
    }

    async fn invoke(&self, name: &str, session: &SessionItem) -> Vec<String> {
        invoke(&self.ctx, self.event(name, session))
            .await
            .expect("flush succeeds")
    }
}

#[tokio::test]
async fn flush_request_folds_the_journal_and_a_duplicate_is_a_no_op() {
    let s = Scenario::new().await;
    let active = s.session().await;
    assert_eq!(active.status, SessionStatus::Active);
    assert!(active.seq >= 1, "the write is journaled: {active:?}");
    let (_, before) = s.snapshot().await;
    assert!(before < active.seq, "the write is not in the snapshot yet");

    let outcomes = s.invoke("flush-request.json", &active).await;
    assert_eq!(outcomes, [format!("flushed:{}", active.seq)]);
    let flushed = s.session().await;
    assert_eq!(flushed.status, SessionStatus::Flushed);
    assert_eq!(flushed.owner, None);
    assert_eq!(flushed.session_id, active.session_id);
    let (etag, seq) = s.snapshot().await;
    assert_eq!(
        seq, active.seq,
        "the snapshot now holds every journaled write"
    );

    // SNS delivers at least once: the same message again changes nothing.
    let outcomes = s.invoke("flush-request.json", &active).await;
    assert_eq!(outcomes, ["already_flushed"]);
    assert_eq!(s.snapshot().await, (etag, seq));
    assert_eq!(s.session().await.status, SessionStatus::Flushed);

    // Another container now opens the collection from the snapshot alone.
    let b = manager(s.data.path(), "container-b", &s.ctx);
    let card_id = s.card_id;
    let card = b
        .with_collection(&s.user, move |col| col.card(card_id))
        .await
        .expect("card readable after the flush");
    assert_eq!(card.value.back, "Nairobi");
}

#[tokio::test]
async fn malformed_record_is_skipped_and_the_rest_of_the_batch_handled() {
    let s = Scenario::new().await;
    let active = s.session().await;
    let outcomes = s.invoke("malformed-then-valid.json", &active).await;
    assert_eq!(
        outcomes,
        ["malformed".to_owned(), format!("flushed:{}", active.seq)]
    );
    assert_eq!(s.session().await.status, SessionStatus::Flushed);
    assert_eq!(s.snapshot().await.1, active.seq);
}

#[tokio::test]
async fn request_for_a_superseded_session_is_stale() {
    let s = Scenario::new().await;
    let mut other = s.session().await;
    other.epoch += 1;
    let outcomes = s.invoke("flush-request.json", &other).await;
    assert_eq!(outcomes, ["stale"]);
    assert_eq!(s.session().await.status, SessionStatus::Active);
}
