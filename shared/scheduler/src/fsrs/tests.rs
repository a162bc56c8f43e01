use super::states::minimum_review_fuzz_interval;
use super::*;
use crate::timing;

fn new_card(id: i64) -> CardState {
    CardState {
        id,
        ctype: CardType::New,
        queue: CardQueue::New,
        due: 1,
        ivl: 0,
        factor: 0,
        reps: 0,
        lapses: 0,
        left: 0,
    }
}

fn defaults() -> FsrsSettings {
    FsrsSettings {
        params: vec![],
        desired_retention: 0.9,
        short_term_with_steps: false,
    }
}

/// 2024-01-01 12:00 UTC in a collection created that morning.
fn noon() -> Timing {
    timing(1_704_081_600, 1_704_110_400, 4, 0)
}

#[test]
fn new_card_good_takes_the_models_memory_and_the_learning_step() {
    let card = new_card(1_704_110_400_000);
    let input = FsrsInput {
        memory: None,
        days_elapsed: 0,
    };
    let a = answer_fsrs(
        &card,
        &DeckConfig::default(),
        &defaults(),
        input,
        &noon(),
        Ease::Good,
        3000,
    )
    .unwrap();
    // The `fsrs` crate's documented first-Good state with default parameters.
    assert_eq!(a.memory.stability, 2.3065);
    assert!((a.memory.difficulty - 2.118_104).abs() < 1e-5);
    assert_eq!(a.outcome.card.queue, CardQueue::Learn);
    assert_eq!(a.outcome.card.left, 1);
    // Anki 26.9.3 wrote factor 224 (shifted difficulty ×1000) for exactly this answer.
    assert_eq!(a.outcome.revlog.factor, 224);
    assert_eq!(a.outcome.revlog.ivl, -600);
}

#[test]
fn easy_on_a_new_card_graduates_above_good() {
    let card = new_card(1_704_110_400_000);
    let input = FsrsInput {
        memory: None,
        days_elapsed: 0,
    };
    let conf = DeckConfig::default();
    let labels = next_intervals_fsrs(&card, &conf, &defaults(), input, &noon()).unwrap();
    // As Anki 26.9.3 showed for this card: 1m, 6m, 10m, 10d.
    assert_eq!(
        labels,
        [
            NextInterval::Seconds(60),
            NextInterval::Seconds(330),
            NextInterval::Seconds(600),
            NextInterval::Days(10)
        ]
    );
}

#[test]
fn short_term_needs_positive_short_term_weights_or_defaults() {
    let mut s = defaults();
    assert!(s.allow_short_term());
    s.params = vec![1.0; 17];
    assert!(!s.allow_short_term());
    s.params = vec![1.0; 19];
    assert!(s.allow_short_term());
    s.params[18] = 0.0;
    assert!(!s.allow_short_term());
}

#[test]
fn decay_by_parameter_generation() {
    assert_eq!(decay_from_params(&[]), FSRS6_DEFAULT_DECAY);
    assert_eq!(decay_from_params(&[1.0; 19]), FSRS5_DEFAULT_DECAY);
    let mut p = vec![1.0; 21];
    p[20] = 0.3;
    assert_eq!(decay_from_params(&p), 0.3);
}

#[test]
fn fuzz_never_moves_a_passing_review_earlier() {
    // Grown: at least one more day than before.
    assert_eq!(minimum_review_fuzz_interval(12.4, 10, 36_500), 11);
    // Barely changed: not below the previous interval.
    assert_eq!(minimum_review_fuzz_interval(9.6, 10, 36_500), 10);
    // Shrunk beyond the fuzz range (new parameters): no floor.
    assert_eq!(minimum_review_fuzz_interval(3.0, 10, 36_500), 0);
}

#[test]
fn invalid_parameters_are_an_error_not_a_panic() {
    let s = FsrsSettings {
        params: vec![1.0; 5],
        ..defaults()
    };
    let input = FsrsInput {
        memory: None,
        days_elapsed: 0,
    };
    let card = new_card(1);
    assert!(
        answer_fsrs(
            &card,
            &DeckConfig::default(),
            &s,
            input,
            &noon(),
            Ease::Good,
            0
        )
        .is_err()
    );
}
