//! The environment half of the one parser: the variables the CDK stack and operators set reach
//! the same fields as the flags. The only test in this binary, so setting the process
//! environment races with nothing.

use std::time::Duration;

use javumbo_runtime::{Profile, Settings};

#[test]
fn the_environment_is_read_and_flags_win() {
    let vars = [
        ("JAVUMBO_COMPACT_AFTER", "8"),
        ("JAVUMBO_TAKEOVER_TIMEOUT_MS", " 250 "),
        (
            "JAVUMBO_CORS_ORIGINS",
            "https://a.example,https://b.example",
        ),
        ("JAVUMBO_DATA", "/tmp/javumbo-env-test"),
        ("JAVUMBO_BACKEND", "aws"),
        ("JAVUMBO_BUCKET", "b"),
        ("JAVUMBO_USERS_TABLE", "u"),
        ("JAVUMBO_SESSIONS_TABLE", "s"),
        ("JAVUMBO_JOURNAL_TABLE", "j"),
        ("JAVUMBO_S3_FORCE_PATH_STYLE", ""),
        ("JAVUMBO_STORE_TIMEOUT_MS", "1500"),
        (
            "JAVUMBO_JWT_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:0:secret:jwt",
        ),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ("RUST_LOG", "debug"),
    ];
    for (k, v) in vars {
        // SAFETY: this binary's only test, so no other thread reads or writes the environment.
        unsafe { std::env::set_var(k, v) };
    }
    let s = Settings::from_env(Profile::Lambda).expect("settings from the environment");
    assert_eq!(s.session.compact_after, 8);
    assert_eq!(s.session.takeover_timeout_ms, 250);
    assert_eq!(
        s.cors_origins.as_deref(),
        Some("https://a.example,https://b.example")
    );
    assert_eq!(s.data, std::path::PathBuf::from("/tmp/javumbo-env-test"));
    assert_eq!(s.log, "debug");
    assert!(s.aws.selected());
    let aws = s.aws.config().expect("aws config");
    assert_eq!(
        (aws.bucket.as_str(), aws.journal_table.as_str()),
        ("b", "j")
    );
    assert!(!aws.force_path_style, "empty is unset");
    assert_eq!(aws.operation_timeout, Duration::from_millis(1500));
    assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(
        s.aws.jwt_secret_arn().as_deref(),
        Some("arn:aws:secretsmanager:us-east-1:0:secret:jwt")
    );

    let s = Settings::from_args(Profile::Local, ["javumbo-local", "--compact-after=9"])
        .expect("flags over environment");
    assert_eq!(s.session.compact_after, 9);
    assert_eq!(s.session.takeover_timeout_ms, 250);
    assert!(s.child_args().iter().any(|a| a == "--compact-after=9"));
    assert!(
        !s.child_args()
            .iter()
            .any(|a| a.to_string_lossy().contains("250")),
        "children inherit the environment rather than argv copies of it"
    );

    // SAFETY: as above.
    unsafe { std::env::set_var("JAVUMBO_CACHE_MAX_ENTRIES", "ten") };
    let err = Settings::from_env(Profile::Lambda).unwrap_err().to_string();
    assert!(
        err.contains(r#"JAVUMBO_CACHE_MAX_ENTRIES="ten""#)
            && err.contains("not a positive integer"),
        "{err}"
    );
}
