//! The student's day: Anki's v3 timing from the collection's `crt`, `rollover` hour and UTC
//! offsets, with the current offset taken from the student's IANA time zone (DST included).
//!
//! Anki keeps three values in `col.conf`: `rollover` (hour of the local day at which it starts),
//! `creationOffset` (minutes *west* of UTC when the collection was created; it never changes)
//! and `localOffset` (minutes west of UTC now: a desktop client rewrites it whenever its zone's
//! offset changes, a sync server reads it). We add the IANA zone name under [`TIMEZONE_KEY`]
//! (Anki keeps keys it does not know) and derive the current offset from it at every instant,
//! so a DST change moves the rollover exactly as it does on a device in that zone. Writes keep
//! `localOffset` equal to the zone's current offset, so an export opened in Anki agrees.

use std::str::FromStr;

use chrono::{Offset, TimeZone as _};
use javumbo_scheduler::Timing;
use serde_json::Value;

use crate::coljson::{ColJson, JsonObject, json_i64};
use crate::{Collection, CollectionError, Result};

/// Our own `col.conf` key holding the student's IANA zone name.
pub const TIMEZONE_KEY: &str = "javumboTimezone";
/// Anki's default rollover hour.
pub const DEFAULT_ROLLOVER_HOUR: u8 = 4;

/// A validated IANA time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// Parse an IANA name (`"Europe/Berlin"`, `"UTC"`); anything else is `InvalidInput`.
    pub fn parse(name: &str) -> Result<Self> {
        chrono_tz::Tz::from_str(name)
            .map(Self)
            .map_err(|_| CollectionError::InvalidInput(format!("unknown time zone {name:?}")))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The zone's offset at `secs` (epoch seconds), minutes east of UTC (+330 for India).
    pub fn offset_east_minutes_at(&self, secs: i64) -> i32 {
        let offset = match self.0.timestamp_opt(secs, 0) {
            chrono::LocalResult::Single(dt) | chrono::LocalResult::Ambiguous(dt, _) => {
                dt.offset().fix().local_minus_utc()
            }
            chrono::LocalResult::None => 0,
        };
        offset / 60
    }

    /// Anki's stored form: minutes west of UTC.
    pub fn minutes_west_at(&self, secs: i64) -> i32 {
        -self.offset_east_minutes_at(secs)
    }
}

/// The day settings a student sees and changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySettings {
    /// IANA name, `None` for a collection that never had one (it then follows `localOffset`).
    pub timezone: Option<String>,
    pub rollover_hour: u8,
}

/// An offset stored by Anki (minutes west) that `FixedOffset::west_opt` accepts.
fn stored_offset(conf: &JsonObject, key: &str) -> Option<i32> {
    json_i64(conf, key)
        .filter(|m| m.abs() < 24 * 60)
        .and_then(|m| i32::try_from(m).ok())
}

fn stored_timezone(conf: &JsonObject) -> Option<TimeZone> {
    conf.get(TIMEZONE_KEY)
        .and_then(Value::as_str)
        .and_then(|n| TimeZone::parse(n).ok())
}

/// Anki reads `rollover` as a u8 capped at 23, and 4 when it is missing.
fn stored_rollover(conf: &JsonObject) -> u8 {
    json_i64(conf, "rollover")
        .and_then(|h| u8::try_from(h).ok())
        .map_or(DEFAULT_ROLLOVER_HOUR, |h| h.min(23))
}

/// The current offset in minutes west: the zone's at `now` when there is one, else the stored
/// `localOffset` (as Anki's sync server does), else UTC.
fn current_minutes_west(conf: &JsonObject, now_secs: i64) -> i32 {
    match stored_timezone(conf) {
        Some(tz) => tz.minutes_west_at(now_secs),
        None => stored_offset(conf, "localOffset").unwrap_or(0),
    }
}

/// Timing at `now_secs` for a collection with this `crt` and `conf`.
pub(crate) fn timing_for(crt: i64, conf: &JsonObject, now_secs: i64) -> Timing {
    let rollover = stored_rollover(conf);
    let current_east = -current_minutes_west(conf, now_secs);
    match stored_offset(conf, "creationOffset") {
        Some(west) => javumbo_scheduler::timing_v2(crt, -west, now_secs, current_east, rollover),
        None => javumbo_scheduler::timing_v2_legacy(crt, now_secs, current_east, rollover),
    }
}

/// The first second whose day number is `timing`'s: Anki counts what was done "today" by day
/// number, and a day that contains a DST change is 23 or 25 hours long, so the start is searched
/// for within two hours of `next_day_at - 1 day` rather than assumed.
pub(crate) fn day_start(crt: i64, conf: &JsonObject, timing: &Timing) -> i64 {
    let today = timing.days_elapsed;
    let guess = timing.next_day_at - 86_400;
    let (mut lo, mut hi) = (guess - 7_200, (guess + 7_200).min(timing.now_secs));
    if timing_for(crt, conf, lo).days_elapsed >= today {
        return lo;
    }
    // Invariant: day(lo) < today <= day(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if timing_for(crt, conf, mid).days_elapsed >= today {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

impl Collection {
    /// The student's time zone and rollover hour.
    pub fn day_settings(&self) -> Result<DaySettings> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        Ok(DaySettings {
            timezone: stored_timezone(&conf).map(|tz| tz.name().to_owned()),
            rollover_hour: stored_rollover(&conf),
        })
    }

    /// Set the student's IANA time zone. The creation offset stays (Anki never changes it when a
    /// device moves zone); `localOffset` becomes the zone's current offset.
    pub fn set_timezone(&self, name: &str) -> Result<()> {
        let tz = TimeZone::parse(name)?;
        self.atomic(|c| {
            let mut conf = c.read_json(ColJson::Conf)?;
            conf.insert(TIMEZONE_KEY.into(), tz.name().into());
            let now = c.clock().now_secs();
            conf.insert("localOffset".into(), tz.minutes_west_at(now).into());
            c.write_json(ColJson::Conf, &conf)?;
            c.touch()
        })
    }

    /// Set the hour (0–23, local) at which the student's day starts.
    pub fn set_rollover_hour(&self, hour: i64) -> Result<()> {
        let hour = u8::try_from(hour)
            .ok()
            .filter(|h| *h <= 23)
            .ok_or_else(|| {
                CollectionError::InvalidInput(format!(
                    "rollover hour {hour} is out of range (expected 0 to 23)"
                ))
            })?;
        self.atomic(|c| {
            let mut conf = c.read_json(ColJson::Conf)?;
            conf.insert("rollover".into(), hour.into());
            c.write_json(ColJson::Conf, &conf)?;
            c.touch()
        })
    }

    /// Keep `localOffset` equal to the zone's offset at `now_secs` (as Anki's desktop keeps it
    /// current). Called by writing operations only, so reads stay read-only.
    pub(crate) fn refresh_local_offset(&self, conf: &JsonObject, now_secs: i64) -> Result<()> {
        let Some(tz) = stored_timezone(conf) else {
            return Ok(());
        };
        let west = tz.minutes_west_at(now_secs);
        if json_i64(conf, "localOffset") != Some(i64::from(west)) {
            let mut conf = conf.clone();
            conf.insert("localOffset".into(), west.into());
            self.write_json(ColJson::Conf, &conf)?;
        }
        Ok(())
    }

    /// Epoch seconds at which today (the student's day containing now) began.
    pub fn day_start_secs(&self) -> Result<i64> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let now = self.clock().now_secs();
        Ok(day_start(
            self.crt()?,
            &conf,
            &timing_for(self.crt()?, &conf, now),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ManualClock};

    #[test]
    fn zones_give_their_offsets_including_dst() {
        let ny = TimeZone::parse("America/New_York").unwrap();
        // 2024-03-10 06:59:59 UTC is 01:59:59 EST; a second later it is 03:00 EDT.
        assert_eq!(ny.offset_east_minutes_at(1_710_053_999), -300);
        assert_eq!(ny.offset_east_minutes_at(1_710_054_000), -240);
        let kolkata = TimeZone::parse("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.minutes_west_at(1_710_054_000), -330);
        let err = TimeZone::parse("Mars/Olympus").unwrap_err();
        assert!(matches!(&err, CollectionError::InvalidInput(m) if m.contains("Mars/Olympus")));
    }

    #[test]
    fn set_timezone_moves_the_rollover_and_keeps_local_offset_current() {
        // Created 2024-01-01 12:00 UTC with offset 0: crt = 04:00 UTC.
        let clock = ManualClock::new(1_704_110_400_000);
        let col = Collection::create_in_memory(
            clock.clone(),
            &CreateOptions {
                starter_deck: false,
                ..CreateOptions::default()
            },
        )
        .unwrap();
        col.set_timezone("Australia/Sydney").unwrap();
        let conf = col.read_json_shared(ColJson::Conf).unwrap();
        assert_eq!(conf["localOffset"], -660, "AEDT in January");
        assert_eq!(conf["creationOffset"], 0);
        assert_eq!(
            col.day_settings().unwrap(),
            DaySettings {
                timezone: Some("Australia/Sydney".into()),
                rollover_hour: 4
            }
        );
        // 12:00 UTC is 23:00 in Sydney: the Sydney day began at 04:00 AEDT = 17:00 UTC the day
        // before, and the next one starts at 17:00 UTC today.
        let t = col.timing().unwrap();
        assert_eq!(t.next_day_at, 1_704_081_600 + 13 * 3600);
        // Sydney's date is 2024-01-01 and the collection's creation date (UTC) too: day 0.
        assert_eq!(t.days_elapsed, 0);
        clock.set_secs(t.next_day_at);
        assert_eq!(col.timing().unwrap().days_elapsed, 1);

        col.set_rollover_hour(0).unwrap();
        assert_eq!(col.day_settings().unwrap().rollover_hour, 0);
        for bad in [-1, 24, 300] {
            let e = col.set_rollover_hour(bad).unwrap_err();
            assert!(
                matches!(&e, CollectionError::InvalidInput(m) if m.contains(&bad.to_string())),
                "{e}"
            );
        }
        assert!(col.set_timezone("Nowhere/Land").is_err());
        assert_eq!(
            col.day_settings().unwrap().timezone.as_deref(),
            Some("Australia/Sydney")
        );
    }

    #[test]
    fn a_dst_day_starts_at_its_own_rollover() {
        // New York, fall back on 2024-11-03 at 02:00 EDT: the day that began 2024-11-02 04:00
        // EDT (08:00 UTC) lasts 25 hours, until 04:00 EST (09:00 UTC).
        let mut conf = JsonObject::new();
        conf.insert("rollover".into(), 4.into());
        conf.insert("creationOffset".into(), 240.into());
        conf.insert(TIMEZONE_KEY.into(), "America/New_York".into());
        let crt = 1_704_096_000; // 2024-01-01 08:00 UTC
        let now = 1_730_620_800; // 2024-11-03 08:00 UTC = 03:00 EST
        let t = timing_for(crt, &conf, now);
        assert_eq!(t.next_day_at, 1_730_624_400);
        assert_eq!(
            day_start(crt, &conf, &t),
            1_730_534_400,
            "08:00 UTC on 11-02"
        );
        let t = timing_for(crt, &conf, 1_730_624_400 + 60);
        assert_eq!(day_start(crt, &conf, &t), 1_730_624_400);
    }

    #[test]
    fn missing_creation_offset_uses_legacy_timing() {
        let mut conf = JsonObject::new();
        conf.insert("rollover".into(), 4.into());
        let crt = 1_704_081_600;
        let t = timing_for(crt, &conf, crt + 86_400 + 10);
        assert_eq!((t.days_elapsed, t.next_day_at), (1, crt + 2 * 86_400));
        conf.insert("rollover".into(), 99.into());
        assert_eq!(stored_rollover(&conf), 23);
    }
}
