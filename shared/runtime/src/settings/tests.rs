//! Parsing through flags: the same parser reads the environment (clap's `env`), which these
//! tests leave alone (`tests/env.rs` covers it in a process of its own).

use std::time::Duration;

use super::*;

fn local(args: &[&str]) -> Result<Settings, SettingsError> {
    Settings::from_args(
        Profile::Local,
        std::iter::once("javumbo-local").chain(args.iter().copied()),
    )
}

fn lambda(args: &[&str]) -> Result<Settings, SettingsError> {
    Settings::from_args(
        Profile::Lambda,
        std::iter::once("bootstrap").chain(args.iter().copied()),
    )
}

#[test]
fn session_settings_parse_or_refuse() {
    let base = || SessionConfig::new("c", PathBuf::from("/tmp/x"));
    let s = local(&["--compact-after=8", "--takeover-timeout-ms= 250 "]).unwrap();
    let cfg = s.session.apply(base());
    assert_eq!(cfg.compact_after, 8);
    assert_eq!(cfg.takeover_timeout, Duration::from_millis(250));
    assert_eq!(cfg.cache_max_entries, base().cache_max_entries);
    assert_eq!(cfg.cache_max_bytes, base().cache_max_bytes);
    for bad in ["0", "-1", "ten", ""] {
        let err = lambda(&[&format!("--cache-max-entries={bad}")])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("JAVUMBO_CACHE_MAX_ENTRIES"), "{err}");
        assert!(err.contains("not a positive integer"), "{err}");
    }
}

#[test]
fn profile_defaults() {
    let s = local(&[]).unwrap();
    assert_eq!(s.data, PathBuf::from("./data"));
    assert_eq!(s.cors_origins.as_deref(), Some("*"));
    assert_eq!(s.log, LOCAL_LOG);
    assert_eq!(s.local.containers, 1);
    assert_eq!(s.local.isolate, Isolate::Threads);
    let s = lambda(&[]).unwrap();
    assert_eq!(s.data, PathBuf::from(LAMBDA_DATA_DIR));
    assert_eq!(s.cors_origins, None, "no open CORS by default on Lambda");
    assert_eq!(s.log, LAMBDA_LOG);
}

#[test]
fn local_flags_keep_their_names() {
    let s = local(&[
        "--addr",
        "127.0.0.1:0",
        "--data",
        "/d",
        "--containers",
        "3",
        "--isolate",
        "processes",
        "--jwt-secret",
        "s3cr3t",
        "--fault-bus-drop",
        "0.5",
        "--fault-bus-dup=0.25",
        "--fault-bus-delay-ms",
        "7",
        "--fault-store-fail",
        "0.1",
        "--fault-store-ambiguous",
        "0.2",
        "--fault-seed",
        "42",
        "--child",
        "c-1",
    ])
    .unwrap();
    assert_eq!(s.local.addr.port(), 0);
    assert_eq!(s.data, PathBuf::from("/d"));
    assert_eq!(s.local.containers, 3);
    assert_eq!(s.local.isolate, Isolate::Processes);
    assert_eq!(s.jwt_secret, Some(Secret::new("s3cr3t")));
    assert_eq!(s.faults.fault_bus_drop, 0.5);
    assert_eq!(s.faults.fault_bus_dup, 0.25);
    assert_eq!(s.faults.fault_bus_delay_ms, 7);
    assert_eq!(s.faults.fault_store_fail, 0.1);
    assert_eq!(s.faults.fault_store_ambiguous, 0.2);
    assert_eq!(s.faults.fault_seed, 42);
    assert_eq!(s.local.child.as_deref(), Some("c-1"));
    assert!(local(&["--containers", "65"]).is_err());
    assert!(local(&["--containers", "0"]).is_err());
}

#[test]
fn children_get_the_command_line_minus_their_own_flags() {
    let s = local(&[
        "--containers",
        "2",
        "--data",
        "/d",
        "--isolate=processes",
        "--jwt-secret",
        "never-in-argv",
        "--fault-bus-drop",
        "0.5",
        "--compact-after=9",
    ])
    .unwrap();
    let args: Vec<String> = s
        .child_args()
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert_eq!(
        args,
        ["--data=/d", "--compact-after=9", "--fault-bus-drop=0.5"]
    );
    // A child parsing them (plus what the gateway adds) has the gateway's settings.
    let child = local(
        &[
            ["--child", "c", "--addr=127.0.0.1:0"].as_slice(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(child.data, s.data);
    assert_eq!(child.session.compact_after, 9);
    assert_eq!(child.faults.fault_bus_drop, 0.5);
}

#[test]
fn secrets_are_redacted() {
    let s = local(&["--jwt-secret", "kkkkkkkkkkkkkkkk"]).unwrap();
    assert!(!format!("{s:?}").contains("kkkk"));
}

const FULL: &[&str] = &[
    "--bucket=b",
    "--users-table=u",
    "--sessions-table=s",
    "--journal-table=j",
    "--flush-topic-arn=arn:aws:sns:us-east-1:000000000000:flush",
    "--s3-force-path-style=true",
    "--store-timeout-ms=1500",
    "--store-max-attempts=5",
];

#[test]
fn reads_every_aws_setting() {
    let s = lambda(FULL).unwrap();
    assert!(s.aws.selected());
    let cfg = s.aws.config().unwrap();
    assert_eq!(cfg.bucket, "b");
    assert_eq!(cfg.journal_table, "j");
    assert!(cfg.force_path_style);
    assert_eq!(
        cfg.flush_topic_arn.as_deref(),
        Some("arn:aws:sns:us-east-1:000000000000:flush")
    );
    assert_eq!(s.aws.jwt_secret_arn(), None);
    assert_eq!(cfg.operation_timeout, Duration::from_millis(1500));
    assert!(cfg.attempt_timeout <= cfg.operation_timeout);
    assert_eq!(cfg.max_attempts, 5);
}

#[test]
fn missing_table_is_named_in_the_error() {
    let err = lambda(&FULL[..3]).unwrap().aws.config().unwrap_err();
    assert!(err.to_string().contains("JAVUMBO_JOURNAL_TABLE"), "{err}");
    // Empty is unset.
    let err = lambda(&[&FULL[..3], &["--journal-table= "]].concat())
        .unwrap()
        .aws
        .config()
        .unwrap_err();
    assert!(err.to_string().contains("JAVUMBO_JOURNAL_TABLE"), "{err}");
}

#[test]
fn malformed_aws_values_are_rejected() {
    for bad in [
        "--s3-force-path-style=maybe",
        "--store-max-attempts=0",
        "--store-timeout-ms=soon",
    ] {
        let name = bad.trim_start_matches("--").split('=').next().unwrap();
        let mut args: Vec<&str> = FULL
            .iter()
            .copied()
            .filter(|a| !a.starts_with(&format!("--{name}=")))
            .collect();
        args.push(bad);
        let err = lambda(&args).unwrap_err().to_string();
        let env = format!("JAVUMBO_{}", name.replace('-', "_").to_uppercase());
        assert!(err.contains(&env), "{bad}: {err}");
    }
    // Empty AWS values are unset, hence defaults.
    let s = lambda(
        &[
            &FULL[..5],
            &["--store-max-attempts=", "--s3-force-path-style="],
        ]
        .concat(),
    )
    .unwrap();
    let cfg = s.aws.config().unwrap();
    assert_eq!(cfg.max_attempts, javumbo_storage_aws::DEFAULT_MAX_ATTEMPTS);
    assert!(!cfg.force_path_style);
}

#[test]
fn backend_selection() {
    assert!(lambda(&["--backend=aws"]).unwrap().aws.selected());
    assert!(
        !lambda(&["--backend=local", "--bucket=b"])
            .unwrap()
            .aws
            .selected()
    );
    assert!(
        lambda(&["--bucket=b", "--sessions-table=s"])
            .unwrap()
            .aws
            .selected()
    );
    assert!(!lambda(&[]).unwrap().aws.selected());
}

#[test]
fn invalid_choice_and_address_are_explained() {
    let err = local(&["--isolate=fibers"]).unwrap_err().to_string();
    assert!(
        err.contains("--isolate") && err.contains("threads"),
        "{err}"
    );
    let err = local(&["--addr=nowhere"]).unwrap_err().to_string();
    assert!(err.contains("JAVUMBO_ADDR"), "{err}");
}

#[test]
fn table_lists_every_setting_with_its_env_var() {
    let table = markdown_table();
    for env in [
        "JAVUMBO_ADDR",
        "JAVUMBO_DATA",
        "JAVUMBO_JWT_SECRET",
        "JAVUMBO_CORS_ORIGINS",
        "JAVUMBO_COMPACT_AFTER",
        "JAVUMBO_TAKEOVER_TIMEOUT_MS",
        "JAVUMBO_CACHE_MAX_ENTRIES",
        "JAVUMBO_CACHE_MAX_BYTES",
        "JAVUMBO_BUCKET",
        "JAVUMBO_STORE_MAX_ATTEMPTS",
        "RUST_LOG",
    ] {
        assert!(table.contains(&format!("`{env}`")), "{env}:\n{table}");
    }
    assert!(table.contains("`--isolate threads\\|processes`"), "{table}");
    assert!(
        table.contains("`./data` (Lambda: `/tmp/javumbo`)"),
        "{table}"
    );
    assert!(!table.contains("--child"), "internal flags stay out");
}
