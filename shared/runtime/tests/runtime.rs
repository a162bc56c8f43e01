//! What the runtime builds on the embedded stores: secrets and CORS per profile, containers
//! with the session settings applied, the flush handler's context.

use std::sync::Arc;

use javumbo_runtime::{Profile, Runtime, RuntimeError, Settings, SettingsError};
use javumbo_session::{Metrics, Username};

async fn runtime(profile: Profile, data: &std::path::Path, args: &[&str]) -> Runtime {
    let mut argv = vec![
        "javumbo".into(),
        "--backend=local".into(),
        "--data".into(),
        data.as_os_str().to_owned(),
    ];
    argv.extend(args.iter().map(Into::into));
    let settings = Settings::from_args(profile, argv).expect("settings");
    Runtime::new(settings, profile, "test")
        .await
        .expect("runtime")
}

fn missing(err: RuntimeError) -> &'static str {
    match err {
        RuntimeError::Settings(SettingsError::Missing(name)) => name,
        other => panic!("not a missing setting: {other}"),
    }
}

#[tokio::test]
async fn a_lambda_on_the_embedded_stores_needs_an_explicit_secret_and_cors() {
    let data = tempfile::tempdir().unwrap();
    let rt = runtime(Profile::Lambda, data.path(), &[]).await;
    assert_eq!(
        missing(rt.jwt_secret().await.unwrap_err()),
        "JAVUMBO_JWT_SECRET"
    );
    assert_eq!(
        missing(rt.cors_origins().unwrap_err()),
        "JAVUMBO_CORS_ORIGINS"
    );
    // Empty is unset on Lambda (it would fall back to the ARN on AWS).
    let rt = runtime(Profile::Lambda, data.path(), &["--jwt-secret="]).await;
    assert_eq!(
        missing(rt.jwt_secret().await.unwrap_err()),
        "JAVUMBO_JWT_SECRET"
    );
    let rt = runtime(
        Profile::Lambda,
        data.path(),
        &["--jwt-secret=given", "--cors-origins=https://a.example"],
    )
    .await;
    assert_eq!(rt.jwt_secret().await.unwrap().expose(), "given");
    assert_eq!(rt.cors_origins().unwrap(), "https://a.example");
    assert!(!data.path().join("jwt-secret").exists());
}

#[tokio::test]
async fn javumbo_local_generates_its_secret_once_and_keeps_it() {
    let data = tempfile::tempdir().unwrap();
    let first = runtime(Profile::Local, data.path(), &[]).await;
    let secret = first.jwt_secret().await.unwrap();
    assert_eq!(secret.expose().len(), 64, "32 random bytes, hex");
    let again = runtime(Profile::Local, data.path(), &[]).await;
    assert_eq!(again.jwt_secret().await.unwrap(), secret);
    let explicit = runtime(Profile::Local, data.path(), &["--jwt-secret=mine"]).await;
    assert_eq!(explicit.jwt_secret().await.unwrap().expose(), "mine");
    assert_eq!(first.cors_origins().unwrap(), "*");
}

fn count(metrics: &Arc<Metrics>, name: &str) -> u64 {
    metrics.snapshot()[name]
}

#[tokio::test]
async fn containers_apply_the_session_settings() {
    let data = tempfile::tempdir().unwrap();
    let rt = runtime(Profile::Local, data.path(), &["--compact-after=2"]).await;
    let c = rt.container_with_id("c-1").unwrap();
    assert_eq!(c.sessions.container_id(), "c-1");
    let user = Username::parse("ana").unwrap();
    c.sessions.create_collection(&user).await.unwrap();
    for i in 0..2 {
        c.sessions
            .with_collection(&user, move |col| col.add_card(&format!("q{i}"), "a", None))
            .await
            .expect("write");
    }
    assert!(
        count(c.sessions.metrics(), "bus_publish") >= 1,
        "two writes past the snapshot ask for a compaction"
    );
    assert!(data.path().join("containers").join("c-1").is_dir());
    c.reporter.report(); // nothing to report on the embedded stores, and no panic

    let flush = rt.flush_context().unwrap();
    assert_eq!(flush.work_dir, data.path().join("flush-work"));
    let session = flush.ports.sessions.get(&user).await.unwrap();
    assert!(session.is_some_and(|s| s.seq >= 2), "the same stores");
}
