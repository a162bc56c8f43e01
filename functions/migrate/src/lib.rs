//! `javumbo-migrate`: bring the users and collections of the original Python app (the monolith's
//! `admin.db` + `user_dbs/`, or the serverless version's DynamoDB table + S3 objects) into
//! javumbo's stores, embedded (`--data DIR`) or AWS (the functions' settings).
//!
//! Per user: read the source (never written), verify it (`PRAGMA integrity_check`, counts,
//! a digest of every revlog row), normalise it ([`javumbo_collection::Collection::repair`]),
//! verify again (same notes and revlog, same revlog digest, opens in the engine), then write the
//! collection, the user (bcrypt hash kept: login upgrades it) and a marker with the source's
//! checksum that makes re-runs skip it. See `docs/ARCHITECTURE.md#migrating-from-the-original-app`.

pub mod check;
pub mod error;
pub mod migrate;
pub mod report;
pub mod source;

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use javumbo_runtime::{Profile, Runtime, Settings};
use javumbo_session::Username;

pub use error::MigrateError;
use migrate::Outcome;
use report::{Report, UserReport};
use source::{CollectionRef, SourceUser};

/// Bring users and collections from the original app into javumbo.
#[derive(Debug, Parser)]
#[command(
    name = "javumbo-migrate",
    version,
    group(ArgGroup::new("source").required(true).args(["monolith", "seed_aws"]))
)]
pub struct Cli {
    /// The monolith's data directory (holding `admin.db` and `user_dbs/`).
    #[arg(long, value_name = "DIR")]
    pub monolith: Option<PathBuf>,
    /// Read the serverless version's DynamoDB users table and S3 bucket (endpoint and region
    /// from the usual AWS settings: AWS_ENDPOINT_URL, AWS_REGION, credentials).
    #[arg(long)]
    pub seed_aws: bool,
    /// Write into the embedded stores `javumbo-local --data DIR` serves; without it, into the
    /// AWS stores the functions' settings name (JAVUMBO_BUCKET, JAVUMBO_USERS_TABLE, ...).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Read and verify everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the report as JSON to FILE and as markdown to FILE with the extension `.md`.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The original users table (--seed-aws).
    #[arg(long, value_name = "NAME", default_value = "javumbo-users")]
    pub seed_users_table: String,
    /// The original bucket (--seed-aws); the original stack named it
    /// `javumbo-user-dbs-<account id>`.
    #[arg(long, value_name = "NAME")]
    pub seed_bucket: Option<String>,
}

/// Run the migration; `Ok(report)` even when users failed (see [`Report::failed`]).
pub async fn run(cli: Cli) -> Result<Report, MigrateError> {
    let (runtime, target) = match &cli.data {
        Some(dir) => {
            let settings = Settings::from_args(
                Profile::Local,
                [
                    "javumbo-migrate".into(),
                    "--data".into(),
                    dir.clone().into_os_string(),
                ],
            )
            .map_err(javumbo_runtime::RuntimeError::from)?;
            let rt = Runtime::new(settings, Profile::Local, "migrate").await?;
            (rt, format!("embedded stores in {}", dir.display()))
        }
        None => {
            let settings =
                Settings::from_env(Profile::Lambda).map_err(javumbo_runtime::RuntimeError::from)?;
            if !settings.aws.selected() {
                return Err(MigrateError::Source(
                    "no --data DIR and no AWS stores configured (JAVUMBO_BUCKET, \
                     JAVUMBO_USERS_TABLE, JAVUMBO_SESSIONS_TABLE, JAVUMBO_JOURNAL_TABLE)"
                        .into(),
                ));
            }
            let rt = Runtime::new(settings, Profile::Lambda, "migrate").await?;
            (rt, "AWS stores of the functions' settings".to_owned())
        }
    };
    let ports = runtime.store_ports()?;

    let (users, source, seed) = if let Some(dir) = &cli.monolith {
        (
            source::monolith_users(dir)?,
            format!("monolith {}", dir.display()),
            None,
        )
    } else {
        let bucket = cli
            .seed_bucket
            .clone()
            .ok_or_else(|| MigrateError::Source("--seed-aws needs --seed-bucket NAME".into()))?;
        // Endpoint, path style and retries as the functions' settings say; the names are the seed's.
        let env =
            Settings::from_env(Profile::Lambda).map_err(javumbo_runtime::RuntimeError::from)?;
        let mut cfg = javumbo_storage_aws::AwsConfig::new(
            bucket.clone(),
            cli.seed_users_table.clone(),
            String::new(),
            String::new(),
        );
        cfg.endpoint_url = env
            .aws
            .endpoint_url
            .clone()
            .filter(|u| !u.trim().is_empty());
        cfg.force_path_style = env.aws.s3_force_path_style;
        let seed = javumbo_storage_aws::seed::SeedReader::new(&cfg).await;
        let users = seed_users(&seed).await?;
        (
            users,
            format!(
                "serverless table {} + bucket {bucket}",
                cli.seed_users_table
            ),
            Some(seed),
        )
    };

    let bar = ProgressBar::new(users.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Two source accounts that normalise to one name cannot both be migrated.
    let mut parsed: HashMap<Username, usize> = HashMap::new();
    for u in &users {
        if let Ok(name) = Username::parse(&u.username) {
            *parsed.entry(name).or_default() += 1;
        }
    }
    let mut reports = Vec::with_capacity(users.len());
    for src in &users {
        bar.set_message(src.username.clone());
        let duplicate = Username::parse(&src.username)
            .ok()
            .is_some_and(|n| parsed.get(&n).copied().unwrap_or(0) > 1);
        let r = if duplicate {
            failed(
                src,
                MigrateError::Conflict(
                    "another source account has the same name after trimming and NFC".into(),
                ),
            )
        } else {
            migrate_one(&ports, seed.as_ref(), src, cli.dry_run).await
        };
        reports.push(r);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let report = Report::new(source, target, cli.dry_run, reports);
    if let Some(path) = &cli.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        std::fs::write(path.with_extension("md"), report.markdown())?;
    }
    Ok(report)
}

async fn seed_users(
    seed: &javumbo_storage_aws::seed::SeedReader,
) -> Result<Vec<SourceUser>, MigrateError> {
    let rows = seed
        .users()
        .await
        .map_err(|e| MigrateError::Source(format!("reading the seed users table: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|u| SourceUser {
            origin: format!("{} item", seed.table()),
            collection: CollectionRef::Object {
                bucket: seed.bucket().to_owned(),
                key: format!("user_dbs/{}.anki2", u.username),
            },
            username: u.username,
            name: u.name,
            password_hash: u.password_hash,
            created_at: u.created_at_ms,
        })
        .collect())
}

fn failed(src: &SourceUser, e: MigrateError) -> UserReport {
    UserReport {
        origin: src.origin.clone(),
        username: src.username.clone(),
        storage_key: Username::parse(&src.username)
            .ok()
            .map(|u| u.storage_key().to_owned()),
        outcome: Outcome::Failed,
        source_checksum: None,
        before: None,
        after: None,
        cards_deleted: 0,
        normalised: Vec::new(),
        error: Some(e.chain()),
    }
}

async fn migrate_one(
    ports: &javumbo_session::Ports,
    seed: Option<&javumbo_storage_aws::seed::SeedReader>,
    src: &SourceUser,
    dry_run: bool,
) -> UserReport {
    let bytes = match &src.collection {
        CollectionRef::File(path) => source::read_file(path),
        CollectionRef::Object { key, .. } => match seed {
            Some(seed) => seed
                .object(key)
                .await
                .map_err(|e| MigrateError::Source(format!("{key}: {e}"))),
            None => Err(MigrateError::Source(format!("{key}: no seed bucket"))),
        },
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return failed(src, e),
    };
    let prepared = match tempfile::tempdir()
        .map_err(MigrateError::from)
        .and_then(|work| migrate::prepare(src, &bytes, work.path()))
    {
        Ok(p) => p,
        Err(e) => return failed(src, e),
    };
    let outcome = migrate::apply(ports, &prepared, &src.origin, dry_run).await;
    let (outcome, error) = match outcome {
        Ok(o) => (o, None),
        Err(e) => (Outcome::Failed, Some(e.chain())),
    };
    UserReport {
        origin: src.origin.clone(),
        username: prepared.user.as_str().to_owned(),
        storage_key: Some(prepared.user.storage_key().to_owned()),
        outcome,
        source_checksum: Some(prepared.checksum),
        before: Some(prepared.before),
        after: Some(prepared.after),
        cards_deleted: prepared.cards_deleted,
        normalised: prepared.normalised,
        error,
    }
}
