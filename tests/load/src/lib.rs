//! `javumbo-load`: the load-test harness users run against javumbo, and the numbers they quote.
//!
//! Map of the crate (each module is one idea):
//! - [`config`]: the command line (targets, scenarios, faults, stop conditions).
//! - [`client`]: one HTTP client of one virtual student; every call is timed into [`metrics`].
//! - [`scenario`]: what a student does (study, deck/card editing, stats + export, the
//!   adversarial multi-client user) and the ledger of acknowledged writes it keeps.
//! - [`ledger`]: what the client-side saw for every write (acknowledged, rejected, ambiguous).
//! - [`audit`]: the end-of-run integrity check of every ledger against the final state, read
//!   through the API and through the exported `.apkg` ([`apkg`]).
//! - [`spawn`]: starting `javumbo-local` with fault switches, killing containers, `/_local/metrics`.
//! - [`rss`]: the server's resident memory (it and its container processes) over a run.
//! - [`report`]: the JSON / HTML / markdown reports with SVG pictures.
//! - [`bench`]: `make bench`'s combined `bench/REPORT.md`.
//! - [`coldstart`]: `cold-start`, the Lambda bootstraps' init and first-invocation times,
//!   against the minimal local Lambda Runtime API of [`runtime_api`].
//! - [`runner`]: ties it together: ramp-up, rate limit, progress bar, stop conditions.

pub mod apkg;
pub mod audit;
pub mod bench;
pub mod client;
pub mod coldstart;
pub mod config;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod report;
pub mod rss;
pub mod runner;
pub mod runtime_api;
pub mod scenario;
pub mod spawn;
pub mod svg;

pub use error::LoadError;
