use thiserror::Error;

/// Everything the conversions and the package decoders can refuse or fail at.
///
/// `Invalid`, `TooLarge` and `Unsupported` are the caller's input (a client mistake when the
/// input came from a client: map them to 400/413); `Sqlite` and `Io` are failures of the
/// machine or a file that SQLite itself cannot read.
#[derive(Debug, Error)]
pub enum ModernError {
    /// Malformed input: a protobuf blob or JSON document that does not decode, a missing table,
    /// an id that is not allowed, a damaged zstd stream.
    #[error("{0}")]
    Invalid(String),
    /// A protobuf blob that does not decode as the message its column holds.
    #[error("{what}: {source}")]
    Protobuf {
        what: String,
        #[source]
        source: prost::DecodeError,
    },
    /// A JSON document of the schema-11 `col` row that does not decode as Anki reads it.
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// Input beyond one of the [`crate::Limits`]; the message names the limit.
    #[error("{0}")]
    TooLarge(String),
    /// A file of a version this crate does not convert (e.g. schema 12/13, a package newer
    /// than the latest version).
    #[error("{0}")]
    Unsupported(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl ModernError {
    /// True when the input, not the machine, is at fault.
    pub fn is_input_error(&self) -> bool {
        !matches!(self, Self::Io(_)) && !matches!(self, Self::Sqlite(e) if !is_corrupt_database(e))
    }

    pub(crate) fn protobuf(what: impl Into<String>, source: prost::DecodeError) -> Self {
        Self::Protobuf {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Json {
            what: what.into(),
            source,
        }
    }
}

/// SQLite errors caused by the file's content rather than by the machine.
fn is_corrupt_database(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase | ErrorCode::ConstraintViolation
        ),
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..)
        | rusqlite::Error::QueryReturnedNoRows => true,
        _ => false,
    }
}

pub type Result<T, E = ModernError> = std::result::Result<T, E>;
