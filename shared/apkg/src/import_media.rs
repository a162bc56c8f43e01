//! Which of a package's media files the user's media gains, under which names, and how the
//! imported notes' references follow (Anki 26.9's apkg importer, rslib
//! `import_export/package/apkg/import/media.rs` and `notes.rs`):
//!
//! - a name the user lacks is added;
//! - a name the user has with the same content is not duplicated;
//! - a name the user has with other content is added as `stem-<sha1 of content>.ext`
//!   ([`hashed_name`]) and the references of the imported (added or updated) notes are
//!   rewritten to it; Anki stores such a renamed copy only when one of those notes refers to
//!   it, and so does this importer;
//! - a "static" name (`_…`, `latex-…`, [`is_static`]) the user has is kept whatever the
//!   package's content, and references to it are never renamed.
//!
//! References are also normalised as Anki does (a reference to a name that is not in Anki's
//! normal form becomes a reference to the normal form). The decision is made from the user's
//! media index (`javumbo_media`, name → SHA-256) inside the import's transaction; the bytes were
//! stored before, content-addressed, by the caller. Work is one index lookup per package file
//! and one pass over each imported note's fields.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use javumbo_collection::{Collection, CollectionError, MediaFile};

use crate::ImportSummary;
use crate::media::{anki_normalized, hashed_name, is_static};
use crate::refs::{filename_is_safe, replace_media_refs};

/// A media file of the package once the caller has stored its bytes (under their SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMedia {
    /// The name in the package, normalised ([`crate::PackageMedia::name`]).
    pub name: String,
    /// SHA-1 of the bytes ([`crate::PackageMedia::sha1`]): a renamed copy is named after it.
    pub sha1: [u8; 20],
    /// Lowercase hex SHA-256 of the bytes: what the user's media index holds.
    pub sha256: String,
    pub size: u64,
}

/// What an import did, and the entries the user's media index must get, in the same
/// transaction, for the imported notes to find their media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaImport {
    pub summary: ImportSummary,
    /// Names (final, possibly renamed) with their content. A name may already be indexed with
    /// other content: it is replaced, as Anki overwrites the file.
    pub index: Vec<MediaFile>,
}

/// A file the import may index.
struct Planned {
    /// Its final name and content.
    file: MediaFile,
    /// Renamed for a clash: indexed only when an imported note refers to it.
    renamed: bool,
    /// An imported note refers to it.
    used: bool,
    /// The final name is indexed with this content already (a renamed copy from an earlier
    /// import of the same package): nothing to write.
    present: bool,
}

/// The media decisions of one import.
pub(crate) struct MediaPlan {
    planned: Vec<Planned>,
    /// Package name → its entry in `planned`, for the files whose references may be rewritten
    /// (Anki's "checked" files: new names and renamed ones, not static ones).
    by_package_name: HashMap<String, usize>,
    skipped: usize,
}

impl MediaPlan {
    /// No media: references are still normalised.
    pub fn empty() -> Self {
        Self {
            planned: Vec::new(),
            by_package_name: HashMap::new(),
            skipped: 0,
        }
    }

    /// Decide, for each package file, from the user's media index in `col`.
    pub fn for_import(col: &Collection, media: &[IncomingMedia]) -> Result<Self, CollectionError> {
        let mut plan = Self::empty();
        // Final name → entry: two package files must not land on one name with two contents
        // (only a hand-made package can try: a file named like another's renamed copy).
        let mut claimed: HashMap<String, usize> = HashMap::with_capacity(media.len());
        for m in media {
            let existing = col.media_file(&m.name)?;
            let (name, renamed) = match existing {
                Some(_) if is_static(&m.name) => {
                    plan.skipped += 1;
                    continue;
                }
                Some(e) if e.sha256 == m.sha256 => {
                    plan.skipped += 1;
                    continue;
                }
                Some(_) => (hashed_name(&m.name, &m.sha1), true),
                None => (m.name.clone(), false),
            };
            let idx = match claimed.entry(name) {
                Entry::Occupied(o) => {
                    let idx = *o.get();
                    if plan.planned[idx].file.sha256 != m.sha256 {
                        plan.skipped += 1;
                        continue;
                    }
                    // The same content under the same final name: one file.
                    plan.skipped += 1;
                    idx
                }
                Entry::Vacant(v) => {
                    let present = if renamed {
                        col.media_file(v.key())?
                            .is_some_and(|e| e.sha256 == m.sha256)
                    } else {
                        false
                    };
                    let idx = plan.planned.len();
                    plan.planned.push(Planned {
                        file: MediaFile {
                            name: v.key().clone(),
                            sha256: m.sha256.clone(),
                            size: m.size,
                        },
                        renamed,
                        used: false,
                        present,
                    });
                    v.insert(idx);
                    idx
                }
            };
            if !is_static(&m.name) {
                plan.by_package_name.insert(m.name.clone(), idx);
            }
        }
        Ok(plan)
    }

    /// One field of an imported note with its media references pointing at the final names
    /// (and normalised), as Anki's importer rewrites them.
    pub fn rewrite_field<'f>(&mut self, field: &'f str) -> Cow<'f, str> {
        let rewritten = replace_media_refs(field, |name| {
            if !filename_is_safe(name) {
                return None;
            }
            let normalized = anki_normalized(name);
            if let Some(&idx) = self.by_package_name.get(normalized.as_ref()) {
                let planned = &mut self.planned[idx];
                planned.used = true;
                (planned.file.name != name).then(|| planned.file.name.clone())
            } else {
                match normalized {
                    // Perhaps a file the user has: the reference in normal form.
                    Cow::Owned(n) => Some(n),
                    Cow::Borrowed(_) => None,
                }
            }
        });
        match rewritten {
            Some(s) if s != field => Cow::Owned(s),
            _ => Cow::Borrowed(field),
        }
    }

    /// A note's fields (joined by `\x1f`), each rewritten by [`Self::rewrite_field`].
    pub fn rewrite_fields<'f>(&mut self, flds: &'f str) -> Cow<'f, str> {
        let mut out: Option<String> = None;
        for (i, field) in flds.split('\x1f').enumerate() {
            let new = self.rewrite_field(field);
            if let (None, Cow::Owned(_)) = (&out, &new) {
                // The first change: copy the fields before it.
                let before: Vec<&str> = flds.split('\x1f').take(i).collect();
                out = Some(before.join("\x1f"));
            }
            if let Some(o) = out.as_mut() {
                if i > 0 {
                    o.push('\x1f');
                }
                o.push_str(&new);
            }
        }
        out.map_or(Cow::Borrowed(flds), Cow::Owned)
    }

    /// The entries to index and the counts: (to index, added, skipped).
    pub fn finish(self) -> (Vec<MediaFile>, usize, usize) {
        let mut skipped = self.skipped;
        let mut index = Vec::with_capacity(self.planned.len());
        for p in self.planned {
            if (p.renamed && !p.used) || p.present {
                skipped += 1;
            } else {
                index.push(p.file);
            }
        }
        let added = index.len();
        (index, added, skipped)
    }
}

/// A `.colpkg` restore's media (Anki's `restore_media`): a package file replaces the user's file
/// of that name unless the content is the same. Returns (to index, added, skipped).
pub(crate) fn restore_media(
    col: &Collection,
    media: &[IncomingMedia],
) -> Result<(Vec<MediaFile>, usize, usize), CollectionError> {
    let mut index = Vec::with_capacity(media.len());
    let mut skipped = 0;
    for m in media {
        if col
            .media_file(&m.name)?
            .is_some_and(|e| e.sha256 == m.sha256)
        {
            skipped += 1;
        } else {
            index.push(MediaFile {
                name: m.name.clone(),
                sha256: m.sha256.clone(),
                size: m.size,
            });
        }
    }
    let added = index.len();
    Ok((index, added, skipped))
}
