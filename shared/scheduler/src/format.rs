//! Anki's answer-button labels (rslib `scheduler/timespan.rs`, English).

use crate::NextInterval;

const MINUTE: f32 = 60.0;
const HOUR: f32 = 60.0 * MINUTE;
const DAY: f32 = 24.0 * HOUR;
const MONTH: f32 = 30.417 * DAY;
const YEAR: f32 = 365.0 * DAY;

/// Anki's short answer-button label: "30s", "1m", "10m", "1.5h", "4d", "1.2mo", "1.5y".
/// Seconds, minutes and days are whole numbers; hours, months and years get one decimal, shown
/// only when it is not zero (as Fluent formats the number). [`button_label`] adds Anki's "<".
pub fn format_interval(i: NextInterval) -> String {
    let secs = match i {
        NextInterval::Seconds(s) => s as f32,
        NextInterval::Days(d) => d as f32 * DAY,
    };
    let abs = secs.abs();
    let (amount, unit, whole) = if abs < MINUTE {
        (secs, "s", true)
    } else if abs < HOUR {
        (secs / MINUTE, "m", true)
    } else if abs < DAY {
        (secs / HOUR, "h", false)
    } else if abs < MONTH {
        (secs / DAY, "d", true)
    } else if abs < YEAR {
        (secs / MONTH, "mo", false)
    } else {
        (secs / YEAR, "y", false)
    };
    let amount = if whole {
        amount.round()
    } else {
        (amount * 10.0).round() / 10.0
    };
    if amount.fract() == 0.0 {
        format!("{amount:.0}{unit}")
    } else {
        format!("{amount:.1}{unit}")
    }
}

/// The label Anki puts on an answer button (`answer_button_time_collapsible`): "(end)" for no
/// delay, and a "<" before a delay shorter than the learn-ahead limit (`collapseTime`), since
/// such a card may come back before that delay has passed.
pub fn button_label(i: NextInterval, collapse_secs: i64) -> String {
    let secs = match i {
        NextInterval::Seconds(s) => s,
        NextInterval::Days(d) => d.saturating_mul(86_400),
    };
    if secs == 0 {
        "(end)".to_owned()
    } else if secs < collapse_secs {
        format!("<{}", format_interval(i))
    } else {
        format_interval(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NextInterval::{Days, Seconds};

    #[test]
    fn labels() {
        assert_eq!(format_interval(Seconds(30)), "30s");
        assert_eq!(format_interval(Seconds(70)), "1m");
        assert_eq!(format_interval(Seconds(60)), "1m");
        assert_eq!(format_interval(Seconds(330)), "6m");
        assert_eq!(format_interval(Seconds(600)), "10m");
        assert_eq!(format_interval(Seconds(5400)), "1.5h");
        assert_eq!(format_interval(Seconds(7200)), "2h");
        assert_eq!(format_interval(Days(1)), "1d");
        assert_eq!(format_interval(Days(4)), "4d");
        assert_eq!(format_interval(Days(30)), "30d");
        assert_eq!(format_interval(Days(37)), "1.2mo");
        assert_eq!(format_interval(Days(364)), "12mo");
        assert_eq!(format_interval(Days(365)), "1y");
        assert_eq!(format_interval(Days(548)), "1.5y");
    }

    #[test]
    fn learn_ahead_labels() {
        assert_eq!(button_label(Seconds(60), 1200), "<1m");
        assert_eq!(button_label(Seconds(1199), 1200), "<20m");
        assert_eq!(button_label(Seconds(1200), 1200), "20m");
        assert_eq!(button_label(Seconds(600), 0), "10m");
        assert_eq!(button_label(Days(1), 1200), "1d");
        assert_eq!(button_label(Seconds(0), 1200), "(end)");
    }
}
