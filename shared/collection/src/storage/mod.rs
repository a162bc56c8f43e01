//! Every SQL statement the engine runs against a collection, one module per table, each a named
//! function over a `Connection` (Anki's rslib keeps its SQL the same way, in `storage/`).
//!
//! - [`col`]: the single `col` row (creation stamp, modification time, the JSON columns).
//! - [`cards`], [`notes`], [`revlog`]: whole typed rows ([`cards::Card`], [`notes::Note`],
//!   [`revlog::RevlogEntry`]) and the queries the operations need.
//!
//! Rules the modules follow:
//! - Every statement is `prepare_cached`: its text is a constant, so one connection parses it
//!   once. A list of deck ids is therefore one JSON-array parameter read with `json_each`, not
//!   an `IN (1,2,3)` spliced into the text.
//! - Enum columns (`cards.type`, `cards.queue`, `revlog.type`, `revlog.ease`) are bound and read
//!   through the conversions in `javumbo-scheduler`; a stored number outside its range makes the
//!   read fail with [`CollectionError::Corrupt`], which keeps the conversion error as its source.
//!
//! The engine's operations live on [`Collection`](crate::Collection); the `.apkg` importer
//! writes imported rows through [`notes::insert`], [`cards::insert`] and [`revlog::insert`].

pub mod cards;
pub mod col;
pub mod fsrs;
pub mod notes;
pub mod revlog;

use javumbo_scheduler::OutOfRange;
use rusqlite::Row;
use rusqlite::types::Type;

use crate::CollectionError;

/// Ids as the single parameter of `IN (SELECT value FROM json_each(?))`: the statement text stays
/// the same for any number of ids.
pub(crate) fn id_array(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 14 + 2);
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// Reads an enum column. An out-of-range number becomes rusqlite's conversion failure carrying
/// the [`OutOfRange`], which [`read_error`] turns into corruption.
pub(crate) fn enum_column<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: TryFrom<i64, Error = OutOfRange>,
{
    let n: i64 = row.get(idx)?;
    T::try_from(n)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

/// The error of a read from `table`: a row whose enum column does not decode is damage in the
/// file; anything else is the database failing.
pub(crate) fn read_error(table: &'static str) -> impl Fn(rusqlite::Error) -> CollectionError {
    move |e| match e {
        rusqlite::Error::FromSqlConversionFailure(_, _, ref cause) if cause.is::<OutOfRange>() => {
            CollectionError::corrupt_because(format!("a {table} row holds an invalid value"), e)
        }
        e => CollectionError::Sqlite(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_arrays_are_json() {
        assert_eq!(id_array(&[]), "[]");
        assert_eq!(id_array(&[1]), "[1]");
        assert_eq!(id_array(&[1, -2, i64::MAX]), "[1,-2,9223372036854775807]");
    }
}
