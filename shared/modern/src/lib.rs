//! Anki's modern collection format, as a pure library: schema 18 ↔ schema 11 conversion and
//! the format pieces of the modern package container. No HTTP, no storage, no zip.
//!
//! javumbo stores collections as schema 11 (the legacy format every Anki imports). Anki 2.1.50+
//! writes schema 18: the note types, decks, deck option presets, config and tags that schema 11
//! keeps as JSON in the `col` row live in their own tables, their settings as protobuf blobs.
//! Modern packages (`collection.anki21b`) and full-sync uploads carry schema 18.
//!
//! - [`downgrade_to_schema11`]: schema 18 → 11 in place, exactly as Anki's own downgrade
//!   (`Collection.close(downgrade=True)`) writes it.
//! - [`upgrade_to_schema18`]: schema 11 → 18 in place, as Anki upgrades a legacy file, so the
//!   official client opens the result as its own.
//! - [`package`]: `meta`, the zstd `collection.anki21b` body, the protobuf media list and the
//!   zstd media files, with bounded decompression.
//! - [`Limits`]: every decoder and conversion is bounded; hitting a limit is an error naming it.
//!
//! Both conversions work on an open `rusqlite::Connection` (the caller copies the file first if
//! it wants to keep the original), run in one transaction (all or nothing), check the file
//! before touching it ([`inspect`]) and never panic on hostile input.
//!
//! # Example: a modern package's collection into javumbo's format, and back
//!
//! ```no_run
//! use javumbo_modern::{Limits, UpgradeOptions, package};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let anki21b_entry: &[u8] = &[];
//! let limits = Limits::default();
//! // Import: the zip entry `collection.anki21b` → a schema-11 file.
//! let path = std::env::temp_dir().join("import.anki2");
//! package::decode_collection(anki21b_entry, std::fs::File::create(&path)?, &limits)?;
//! let conn = rusqlite::Connection::open(&path)?;
//! let report = javumbo_modern::downgrade_to_schema11(&conn, &limits)?;
//! println!("expanded tags forgotten: {:?}", report.expanded_tags);
//! drop(conn); // `path` is now a schema-11 collection
//!
//! // Export: a copy of a schema-11 file → schema 18 → the `collection.anki21b` entry.
//! let conn = rusqlite::Connection::open(&path)?;
//! javumbo_modern::upgrade_to_schema18(&conn, &UpgradeOptions::at(1_700_000_000), &limits)?;
//! drop(conn);
//! let mut body = Vec::new();
//! package::encode_collection(&mut std::fs::File::open(&path)?, &mut body)?;
//! let meta = package::encode_meta(package::PackageVersion::Latest);
//! # let _ = (body, meta);
//! # Ok(()) }
//! ```
//!
//! # What schema 11 cannot hold
//!
//! A downgrade keeps everything Anki's own downgrade keeps, including unknown JSON keys (the
//! `other` bytes). What neither can carry, and what an 18 → 11 → 18 round trip therefore
//! changes:
//! - tags' expanded state in the browser sidebar (every tag comes back collapsed, Anki's
//!   default; [`DowngradeReport::expanded_tags`] lists them);
//! - templates' `mtime_secs`/`usn` and config entries' `usn`/`mtime_secs` (they come back 0);
//! - preset values outside Anki's valid ranges (Anki reads them as defaults, so it writes the
//!   defaults), a starting ease finer than 1/1000, and a deck's desired retention finer than
//!   1% (schema 11 stores whole percents);
//! - numbers that do not fit schema 11's narrower types, truncated as Anki truncates them
//!   (sort field index and font size above 65535, browser font size above 255);
//! - protobuf fields newer than Anki 26.9.3, which this crate does not declare.

mod deck;
mod deckconfig;
mod downgrade;
pub mod error;
mod json;
mod limits;
mod names;
mod notetype;
pub mod package;
pub mod proto;
mod schema;
mod upgrade;

pub use downgrade::{DowngradeReport, downgrade_to_schema11};
pub use error::{ModernError, Result};
pub use limits::Limits;
pub use schema::{SchemaVersion, inspect, register_unicase_collation};
pub use upgrade::{UpgradeOptions, UpgradeReport, upgrade_to_schema18};
