//! The "Verbal Tenses" starter deck every new collection gets: English tenses by example.
//!
//! Front = an example sentence, back = the tense and why. Covers the 12 combinations of
//! past/present/future with simple/continuous/perfect/perfect continuous, then the
//! conditionals, "used to", "be going to" and a few contrasts learners mix up.

use crate::{Collection, Result};

/// Exact name of the starter deck (the API contract names it).
pub const STARTER_DECK_NAME: &str = "Verbal Tenses";

/// (front, back) pairs, in study order.
pub const STARTER_NOTES: &[(&str, &str)] = &[
    // Present
    (
        "Water boils at 100 °C at sea level.",
        "Present simple — a general truth that is always so.",
    ),
    (
        "I take the 8:15 bus to work every morning.",
        "Present simple — a habit or routine; 'every morning' signals repetition.",
    ),
    (
        "Look! It's snowing outside.",
        "Present continuous — an action happening right now, at the moment of speaking.",
    ),
    (
        "She is staying with her cousins this month.",
        "Present continuous — a temporary situation around now, not a permanent one.",
    ),
    (
        "She has lived in Lisbon since 2019.",
        "Present perfect — an action that started in the past and continues now; 'since' marks the start.",
    ),
    (
        "I have already read that book.",
        "Present perfect — a past action with a result that matters now; the exact time is not given.",
    ),
    (
        "Have you ever eaten durian?",
        "Present perfect — life experience up to now; 'ever' asks about any time in your life.",
    ),
    (
        "They have been waiting for the bus for forty minutes.",
        "Present perfect continuous — an activity that began in the past and is still going on; 'for' gives its duration.",
    ),
    (
        "Your eyes are red. Have you been crying?",
        "Present perfect continuous — a recent activity whose effects are visible now.",
    ),
    // Past
    (
        "We visited Rome in 2015.",
        "Past simple — a finished action at a stated past time ('in 2015').",
    ),
    (
        "He locked the door, turned off the lights and left.",
        "Past simple — a sequence of completed actions, one after another.",
    ),
    (
        "I was cooking dinner when the phone rang.",
        "Past continuous ('was cooking') for the longer background action, interrupted by a short past simple action ('rang').",
    ),
    (
        "At 9 p.m. yesterday we were watching a film.",
        "Past continuous — an action in progress at a specific moment in the past.",
    ),
    (
        "When we arrived at the cinema, the film had already started.",
        "Past perfect — an action completed before another past action ('arrived').",
    ),
    (
        "She had never seen the sea before she moved to Porto.",
        "Past perfect — experience up to a point in the past.",
    ),
    (
        "He was tired because he had been running all morning.",
        "Past perfect continuous — a longer activity up to a past moment, explaining a past result.",
    ),
    (
        "They had been dating for five years when they got married.",
        "Past perfect continuous — duration of an activity before another past event.",
    ),
    // Future
    (
        "I think it will rain tomorrow.",
        "Future simple (will) — a prediction based on opinion ('I think').",
    ),
    (
        "The phone is ringing. — I'll get it!",
        "Future simple (will) — a decision made at the moment of speaking.",
    ),
    (
        "This time tomorrow I will be flying to Tokyo.",
        "Future continuous — an action that will be in progress at a specific future moment.",
    ),
    (
        "By the end of June, she will have finished her thesis.",
        "Future perfect — an action completed before a future deadline; 'by' marks the deadline.",
    ),
    (
        "Next month I will have been working here for ten years.",
        "Future perfect continuous — the duration of an activity up to a future point.",
    ),
    (
        "Look at those black clouds! It's going to rain.",
        "'Be going to' — a prediction based on evidence you can see now.",
    ),
    (
        "We're going to paint the kitchen this weekend.",
        "'Be going to' — a plan or intention decided before speaking.",
    ),
    (
        "The train leaves at 6:40 tomorrow morning.",
        "Present simple for the future — a fixed timetable or schedule.",
    ),
    (
        "I'm meeting Ana for lunch on Friday.",
        "Present continuous for the future — a personal arrangement already made.",
    ),
    // Used to / would
    (
        "I used to play the piano when I was a child.",
        "'Used to' — a past habit or state that is no longer true.",
    ),
    (
        "There used to be a cinema on this street.",
        "'Used to' — a past state that has changed.",
    ),
    // Conditionals
    (
        "If you heat ice, it melts.",
        "Zero conditional — if + present simple, present simple: always true, a general fact.",
    ),
    (
        "If it rains tomorrow, we will stay at home.",
        "First conditional — if + present simple, will + verb: a real, likely future situation.",
    ),
    (
        "If I had more free time, I would learn Japanese.",
        "Second conditional — if + past simple, would + verb: an unreal or unlikely present/future situation.",
    ),
    (
        "If I were you, I would apologise.",
        "Second conditional with 'were' — giving advice by imagining an unreal situation.",
    ),
    (
        "If we had left earlier, we would have caught the train.",
        "Third conditional — if + past perfect, would have + past participle: an unreal past; it did not happen.",
    ),
    (
        "If she had taken the job, she would be living in Berlin now.",
        "Mixed conditional — an unreal past condition (past perfect) with a present result (would be).",
    ),
    // Contrasts
    (
        "I have lost my keys, so I can't get in.",
        "Present perfect, not past simple — the loss matters now; no finished past time is mentioned.",
    ),
    (
        "I lost my keys last week, but I found them the next day.",
        "Past simple, not present perfect — a finished time ('last week') requires the past simple.",
    ),
    (
        "She works in a bank, but this week she is working from home.",
        "Present simple for the permanent situation, present continuous for the temporary one.",
    ),
    (
        "I'll have finished the report by the time you arrive.",
        "Future perfect in the main clause; after 'by the time' English uses the present simple ('arrive'), not 'will'.",
    ),
];

/// Create the starter deck, fill it with new cards in order (positions 1..n on a fresh
/// collection) and make it the current deck. Runs inside `Collection::create`'s transaction.
pub(crate) fn add_starter_deck(col: &Collection) -> Result<()> {
    let deck = col.create_deck(STARTER_DECK_NAME)?;
    for (front, back) in STARTER_NOTES {
        col.insert_basic_note(deck.id, front, back)?;
    }
    col.select_deck(deck.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ManualClock};

    #[test]
    fn starter_deck_is_current_with_new_cards_in_order() {
        let clock = ManualClock::new(1_704_110_400_000);
        let col = Collection::create_in_memory(clock, &CreateOptions::default()).unwrap();
        let decks = col.decks().unwrap();
        assert_eq!(decks.len(), 1, "Default is hidden while empty");
        assert_eq!(decks[0].name, STARTER_DECK_NAME);
        assert_eq!(col.current_deck_id().unwrap(), decks[0].id);
        let conf = col.read_json(crate::coljson::ColJson::Conf).unwrap();
        assert_eq!(conf["activeDecks"], serde_json::json!([decks[0].id]));
        assert_eq!(conf["nextPos"], serde_json::json!(STARTER_NOTES.len() + 1));

        let rows: Vec<(i64, i64, i64, String)> = col
            .conn()
            .prepare("SELECT c.type, c.queue, c.due, n.flds FROM cards c JOIN notes n ON n.id = c.nid ORDER BY c.id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(rows.len() >= 30);
        assert_eq!(rows.len(), STARTER_NOTES.len());
        for (i, (ctype, queue, due, flds)) in rows.iter().enumerate() {
            assert_eq!((*ctype, *queue, *due), (0, 0, i as i64 + 1));
            assert_eq!(
                flds,
                &format!("{}\u{1f}{}", STARTER_NOTES[i].0, STARTER_NOTES[i].1)
            );
        }
    }

    #[test]
    fn starter_covers_all_twelve_tenses() {
        let backs: Vec<&str> = STARTER_NOTES.iter().map(|(_, b)| *b).collect();
        for tense in ["Present", "Past", "Future"] {
            for aspect in ["simple", "continuous", "perfect", "perfect continuous"] {
                let label = format!("{tense} {aspect} ");
                assert!(
                    backs.iter().any(|b| b.starts_with(&label)),
                    "missing {label}"
                );
            }
        }
        for extra in ["conditional", "'Used to'", "'Be going to'"] {
            assert!(backs.iter().any(|b| b.contains(extra)), "missing {extra}");
        }
    }

    #[test]
    fn no_starter_deck_when_not_asked() {
        let clock = ManualClock::new(1_704_110_400_000);
        let opts = CreateOptions {
            starter_deck: false,
            ..CreateOptions::default()
        };
        let col = Collection::create_in_memory(clock, &opts).unwrap();
        assert!(col.decks().unwrap().is_empty());
        assert_eq!(col.current_deck_id().unwrap(), 1);
    }
}
