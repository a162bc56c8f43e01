use super::*;
use crate::testutil::empty;

fn data_of(col: &Collection, id: i64) -> CardData {
    let text: String = col
        .conn()
        .query_row("SELECT data FROM cards WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    CardData::parse(&text)
}

#[test]
fn switching_fsrs_recomputes_and_clears_memory_states() {
    let (col, clock) = empty();
    let card = col.add_card("f", "b", None).unwrap().card_id;
    let other = col.add_card("f2", "b2", None).unwrap().card_id;
    col.answer_card(card, 3, Some(1000)).unwrap();
    clock.advance_ms(600_000);
    col.answer_card(card, 3, Some(1000)).unwrap();
    assert_eq!(data_of(&col, card).memory(), None, "SM-2 writes no memory");

    clock.advance_ms(86_400_000);
    let n = col.set_fsrs_enabled(true).unwrap();
    assert_eq!(n.cards, 1, "only reviewed cards get a memory state");
    let d = data_of(&col, card);
    assert!(d.memory().is_some());
    assert_eq!((d.desired_retention, d.decay), (Some(0.9), Some(0.154)));
    assert_eq!(data_of(&col, other).memory(), None);
    // Setting the same value again is a no-op.
    assert_eq!(col.set_fsrs_enabled(true).unwrap().cards, 0);

    // Answering under FSRS updates the memory state.
    let before = d.memory().unwrap();
    col.answer_card(card, 3, Some(1000)).unwrap();
    let after = data_of(&col, card).memory().unwrap();
    assert!(after.stability > before.stability);

    col.set_fsrs_enabled(false).unwrap();
    let d = data_of(&col, card);
    assert_eq!(
        (d.memory(), d.desired_retention, d.decay),
        (None, None, None)
    );
}

#[test]
fn preset_settings_are_validated() {
    let (col, _) = empty();
    assert!(matches!(
        col.set_preset_fsrs(1, Some(&[1.0, 2.0]), None),
        Err(CollectionError::InvalidInput(_))
    ));
    assert!(matches!(
        col.set_preset_fsrs(1, None, Some(0.5)),
        Err(CollectionError::InvalidInput(_))
    ));
    assert!(matches!(
        col.set_preset_fsrs(99, None, Some(0.8)),
        Err(CollectionError::NotFound(_))
    ));
    col.set_preset_fsrs(1, Some(&fsrs::DEFAULT_PARAMETERS), Some(0.85))
        .unwrap();
    let p = col.preset_fsrs(1).unwrap();
    assert_eq!(p.params, fsrs::DEFAULT_PARAMETERS.to_vec());
    assert_eq!(p.desired_retention, 0.85);
}

#[test]
fn optimising_without_history_keeps_the_parameters() {
    let (col, _) = empty();
    let out = col.optimize_fsrs_params(1, true).unwrap();
    assert_eq!(out.fsrs_items, 0);
    assert!(!out.applied);
    assert!(out.params.is_empty());
}

#[test]
fn answered_data_keeps_position_and_clears_fsrs_under_sm2() {
    let old = r#"{"s":3.0,"d":5.0,"dr":0.9,"decay":0.5,"lrt":1}"#;
    assert_eq!(
        answered_card_data(old, Some(7), 100, None),
        r#"{"pos":7,"decay":0.5,"lrt":100}"#
    );
}
