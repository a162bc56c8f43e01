//! "Today" for a collection: Anki's v2 "new" cutoff logic (`sched_timing_today_v2_new`).

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

/// Timing for `now_secs`. `crt` = collection creation stamp (secs, already at the rollover hour
/// of its day, in the collection's offset). `utc_offset_minutes` is minutes *east* of UTC (e.g.
/// +600 for AEST, i.e. minus Anki's `creationOffset`/`localOffset` "minutes west") and is used
/// for both the creation and the current time: the collection has one fixed offset.
pub fn timing(crt: i64, now_secs: i64, rollover_hour: u8, utc_offset_minutes: i32) -> Timing {
    // Anki's fixed_offset_from_minutes caps the offset at ±23h.
    let offset = i64::from(utc_offset_minutes.clamp(-23 * 60, 23 * 60)) * 60;
    let local_day = |secs: i64| (secs + offset).div_euclid(DAY_SECS);

    let now_day = local_day(now_secs);
    let rollover_today = now_day * DAY_SECS + i64::from(rollover_hour % 24) * 3600 - offset;
    let rollover_passed = rollover_today <= now_secs;
    let next_day_at = if rollover_passed {
        rollover_today + DAY_SECS
    } else {
        rollover_today
    };

    // Counted in calendar days, not 86 400 s blocks: the creation *date* is what matters.
    let days = now_day - local_day(crt);
    let days = if rollover_passed { days } else { days - 1 };
    Timing {
        now_secs,
        days_elapsed: days.max(0),
        next_day_at,
    }
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
    fn anki_mdt_example() {
        // rslib timing.rs: created 2018-08-06 03:00 MDT (-6h), now 2018-08-09 04:00 -> 3 days
        let crt = 1_533_546_000; // 2018-08-06T09:00:00Z
        let now = 1_533_808_800; // 2018-08-09T10:00:00Z = 04:00 MDT
        assert_eq!(timing(crt, now, 4, -360).days_elapsed, 3);
        assert_eq!(timing(crt, now - 1, 4, -360).days_elapsed, 2);
    }
}
