/// Bounds on the work a conversion or a decoder does for one input. Every limit that is hit is
/// an error naming it ([`crate::ModernError::TooLarge`]), never a truncated result.
///
/// The defaults admit any collection a person builds by hand (Anki itself has no such limits);
/// callers with their own policy (javumbo's import limits) pass tighter ones.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Note types in one collection.
    pub max_notetypes: usize,
    /// Fields, and separately templates, of one note type.
    pub max_fields_per_notetype: usize,
    pub max_templates_per_notetype: usize,
    /// Decks in one collection.
    pub max_decks: usize,
    /// Deck option presets in one collection.
    pub max_deck_configs: usize,
    /// Entries of the collection config (`config` table / `col.conf`).
    pub max_config_entries: usize,
    /// Registered tags (`tags` table / `col.tags`).
    pub max_tags: usize,
    /// Bytes of one schema-11 JSON column (`col.models`, `col.decks`, …) read by the upgrade.
    pub max_json_bytes: usize,
    /// Bytes of a decompressed collection file.
    pub max_collection_bytes: u64,
    /// Bytes of the decompressed media list, and entries in it.
    pub max_media_list_bytes: u64,
    pub max_media_entries: usize,
    /// Bytes of one decompressed media file.
    pub max_media_file_bytes: u64,
    /// Largest zstd window (log2 bytes) a decoder accepts: the memory one decompression may take.
    /// zstd's own default (27, 128 MiB); Anki's exports use far smaller windows.
    pub zstd_window_log_max: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_notetypes: 2_000,
            max_fields_per_notetype: 500,
            max_templates_per_notetype: 500,
            max_decks: 20_000,
            max_deck_configs: 2_000,
            max_config_entries: 20_000,
            max_tags: 200_000,
            max_json_bytes: 256 << 20,
            max_collection_bytes: 2 << 30,
            max_media_list_bytes: 64 << 20,
            max_media_entries: 500_000,
            max_media_file_bytes: 512 << 20,
            zstd_window_log_max: 27,
        }
    }
}
