//! "Today" for a collection: Anki's v2 cutoff logic (`sched_timing_today_v2_new`, and the
//! legacy variant for collections without a creation offset).

const DAY_SECS: i64 = 86_400;

/// The scheduler's notion of "now" for one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Epoch seconds.
    pub now_secs: i64,
    /// Whole days since the collection was created ("today" for review `due`s).
    pub days_elapsed: i64,
    /// Epoch seconds of the next day rollover.
    pub next_day_at: i64,
}

impl Timing {
    /// Seconds until the next rollover; always ≥ 1 for a `Timing` made by [`timing`].
    pub(crate) fn secs_until_rollover(&self) -> u32 {
        u32::try_from((self.next_day_at - self.now_secs).max(0)).unwrap_or(u32::MAX)
    }
}

/// Timing for `now_secs` with one fixed offset for creation and now. `crt` = collection creation
/// stamp (secs). `utc_offset_minutes` is minutes *east* of UTC (e.g. +600 for AEST, i.e. minus
/// Anki's `creationOffset`/`localOffset` "minutes west").
pub fn timing(crt: i64, now_secs: i64, rollover_hour: u8, utc_offset_minutes: i32) -> Timing {
    timing_v2(
        crt,
        utc_offset_minutes,
        now_secs,
        utc_offset_minutes,
        rollover_hour,
    )
}

/// Anki's `sched_timing_today_v2_new`: the day number is the count of *calendar* days between
/// `crt`'s date in the creation offset and now's date in the current offset (minus one before
/// today's rollover), so a student who moves zone (or crosses a DST change) keeps counting days
/// from the same creation date. Offsets are minutes east of UTC.
pub fn timing_v2(
    crt: i64,
    creation_offset_east: i32,
    now_secs: i64,
    current_offset_east: i32,
    rollover_hour: u8,
) -> Timing {
    let creation = offset_secs(creation_offset_east);
    let current = offset_secs(current_offset_east);
    let now_day = (now_secs + current).div_euclid(DAY_SECS);
    let rollover_today = now_day * DAY_SECS + i64::from(rollover_hour % 24) * 3600 - current;
    let rollover_passed = rollover_today <= now_secs;
    let next_day_at = if rollover_passed {
        rollover_today + DAY_SECS
    } else {
        rollover_today
    };
    let days = now_day - (crt + creation).div_euclid(DAY_SECS);
    let days = if rollover_passed { days } else { days - 1 };
    Timing {
        now_secs,
        days_elapsed: days.max(0),
        next_day_at,
    }
}

/// Anki's `sched_timing_today_v2_legacy`, used when a collection has no `creationOffset`: the
/// day number counts whole 86,400 s blocks since `crt` moved to the rollover hour of its date in
/// the *current* offset.
pub fn timing_v2_legacy(
    crt: i64,
    now_secs: i64,
    current_offset_east: i32,
    rollover_hour: u8,
) -> Timing {
    let current = offset_secs(current_offset_east);
    let at_rollover = |secs: i64| {
        (secs + current).div_euclid(DAY_SECS) * DAY_SECS + i64::from(rollover_hour % 24) * 3600
            - current
    };
    let crt_at_rollover = at_rollover(crt);
    // Anki divides an i64 and casts to u32: truncation toward zero, negatives wrap; a collection
    // is never studied before its creation day, so clamp instead.
    let days_elapsed = ((now_secs - crt_at_rollover) / DAY_SECS).max(0);
    let mut next_day_at = at_rollover(now_secs);
    if next_day_at < now_secs {
        next_day_at += DAY_SECS;
    }
    Timing {
        now_secs,
        days_elapsed,
        next_day_at,
    }
}

/// Anki's `fixed_offset_from_minutes` caps an offset at ±23 h.
fn offset_secs(minutes_east: i32) -> i64 {
    i64::from(minutes_east.clamp(-23 * 60, 23 * 60)) * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRT: i64 = 1_704_081_600; // 2024-01-01 04:00 UTC

    #[test]
    fn utc_rollover_at_four() {
        let t = timing(CRT, CRT + 8 * 3600, 4, 0); // 12:00
        assert_eq!(
            t,
            Timing {
                now_secs: CRT + 8 * 3600,
                days_elapsed: 0,
                next_day_at: CRT + DAY_SECS
            }
        );
        // 03:59:59 next day is still day 0, 04:00 is day 1
        let t = timing(CRT, CRT + DAY_SECS - 1, 4, 0);
        assert_eq!((t.days_elapsed, t.next_day_at), (0, CRT + DAY_SECS));
        let t = timing(CRT, CRT + DAY_SECS, 4, 0);
        assert_eq!((t.days_elapsed, t.next_day_at), (1, CRT + 2 * DAY_SECS));
    }

    #[test]
    fn before_creation_is_day_zero() {
        assert_eq!(timing(CRT, CRT - 5 * DAY_SECS, 4, 0).days_elapsed, 0);
    }

    #[test]
    fn positive_offset() {
        // AEST +10: crt = 2024-01-01 04:00 local = 2023-12-31 18:00 UTC
        let crt = CRT - 10 * 3600;
        let t = timing(crt, crt + 3 * DAY_SECS + 3600, 4, 600);
        assert_eq!(t.days_elapsed, 3);
        assert_eq!(t.next_day_at, crt + 4 * DAY_SECS);
    }

    #[test]
    fn creation_and_current_offsets_differ() {
        // Anki's own days_elapsed test: created in AEST (+10), now in a zone 1 h west (+9).
        // 2018-08-06 04:00 AEST = 2018-08-05T18:00:00Z.
        let crt = 1_533_492_000;
        let at = |h: i64| crt + 3 * DAY_SECS + h * 3600;
        // 03:00 +9 on day 3 is before the rollover: still day 2.
        assert_eq!(timing_v2(crt, 600, at(0), 540, 4).days_elapsed, 2);
        assert_eq!(timing_v2(crt, 600, at(1), 540, 4).days_elapsed, 3);
        // Moving east by 10 h: the local date jumps ahead, and so does the day count.
        assert_eq!(timing_v2(crt, 0, crt + 12 * 3600, 600, 4).days_elapsed, 1);
    }

    #[test]
    fn legacy_counts_blocks_since_crt_at_rollover() {
        let t = timing_v2_legacy(CRT + 3600, CRT + DAY_SECS + 7200, 0, 4);
        assert_eq!((t.days_elapsed, t.next_day_at), (1, CRT + 2 * DAY_SECS));
        let t = timing_v2_legacy(CRT, CRT + DAY_SECS, 0, 4);
        assert_eq!(
            t.next_day_at,
            CRT + DAY_SECS,
            "the rollover instant itself is not passed"
        );
    }

    #[test]
    fn anki_mdt_example() {
        // rslib timing.rs: created 2018-08-06 03:00 MDT (-6h), now 2018-08-09 04:00 -> 3 days
        let crt = 1_533_546_000; // 2018-08-06T09:00:00Z
        let now = 1_533_808_800; // 2018-08-09T10:00:00Z = 04:00 MDT
        assert_eq!(timing(crt, now, 4, -360).days_elapsed, 3);
        assert_eq!(timing(crt, now - 1, 4, -360).days_elapsed, 2);
    }
}
