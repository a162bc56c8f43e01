//! Read-only access to the original serverless app's stores, for `javumbo-migrate --seed-aws`:
//! its DynamoDB users table (hash key `username`; `name`, `password_hash`, `created_at` as an
//! ISO-8601 UTC string) and the S3 objects `user_dbs/<username>.anki2` of its bucket.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{AwsStoreError, Result, sdk_error};
use crate::{AwsClients, AwsConfig};

/// One item of the original users table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedUser {
    pub username: String,
    pub name: String,
    pub password_hash: String,
    pub created_at_ms: Option<i64>,
}

pub struct SeedReader {
    clients: AwsClients,
    table: String,
    bucket: String,
}

impl SeedReader {
    /// Reads `cfg.users_table` and `cfg.bucket` (the other names in `cfg` are unused), through
    /// `cfg`'s endpoint and path style.
    pub async fn new(cfg: &AwsConfig) -> Self {
        Self {
            clients: AwsClients::load(cfg).await,
            table: cfg.users_table.clone(),
            bucket: cfg.bucket.clone(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Every user (a strongly consistent scan, all pages), in username order.
    pub async fn users(&self) -> Result<Vec<SeedUser>> {
        let mut users = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .clients
                .dynamodb
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb", "Scan", e))?;
            for item in out.items() {
                let s = |k: &str| match item.get(k) {
                    Some(AttributeValue::S(v)) => Ok(v.clone()),
                    other => Err(AwsStoreError::corrupt(format!(
                        "seed users item: attribute {k}: expected S, found {other:?}"
                    ))),
                };
                users.push(SeedUser {
                    username: s("username")?,
                    name: s("name").unwrap_or_default(),
                    password_hash: s("password_hash")?,
                    created_at_ms: s("created_at").ok().and_then(|t| parse_iso8601_ms(&t)),
                });
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    /// The bytes of one object of the bucket.
    pub async fn object(&self, key: &str) -> Result<Vec<u8>> {
        let out = self
            .clients
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("s3", "GetObject", e))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| AwsStoreError::Unavailable {
                service: "s3",
                operation: "GetObject",
                message: e.to_string(),
            })?;
        Ok(body.into_bytes().to_vec())
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+00:00]` (what Python's `datetime.isoformat()` writes for
/// UTC) to epoch milliseconds; `None` for anything else.
pub fn parse_iso8601_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let ms: i64 = format!("{:0<3}", frac.get(..3.min(frac.len()))?)
        .parse()
        .ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms)
}

#[cfg(test)]
mod tests {
    use super::parse_iso8601_ms;

    #[test]
    fn parses_python_isoformat() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00"), Some(0));
        assert_eq!(
            parse_iso8601_ms("2024-03-01T12:30:05.123456+00:00"),
            Some(1_709_296_205_123)
        );
        assert_eq!(
            parse_iso8601_ms("2024-03-01T12:30:05Z"),
            Some(1_709_296_205_000)
        );
        assert_eq!(parse_iso8601_ms("yesterday"), None);
    }
}
