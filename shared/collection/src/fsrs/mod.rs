//! FSRS in the collection, as Anki 26.9.3 runs it: the memory state written on every answer,
//! memory states recomputed from the revlog when FSRS is switched on or a preset's parameters
//! change (rslib `scheduler/fsrs/memory_state.rs`), and a preset's parameters optimised from its
//! revlog (`scheduler/fsrs/params.rs`), all on the `fsrs` crate version Anki links.
//!
//! The scheduling maths is `javumbo_scheduler::fsrs`; settings are read through [`settings`].

mod data;
pub(crate) mod history;
pub mod settings;

use std::collections::HashMap;

use fsrs::{ComputeParametersInput, FSRS, TrainingConfig};
use javumbo_scheduler::fsrs::{
    FsrsError, FsrsInput, FsrsSettings, MemoryState, decay_from_params, next_intervals_fsrs,
};
use javumbo_scheduler::{CardType, DeckConfig, NextInterval, Timing};
use serde_json::Value;

pub use data::CardData;
use history::{Review, item_for_memory_state, items_for_training};
pub use settings::{PresetFsrs, deck_desired_retention, fsrs_enabled};

use crate::schema::DEFAULT_DCONF_ID;
use crate::storage::cards::Card;
use crate::{ColJson, Collection, CollectionError, JsonObject, Result, storage};

/// The FSRS side of one answer: the scheduler's inputs and what `cards.data` records.
#[derive(Debug, Clone, PartialEq)]
pub struct CardFsrs {
    pub settings: FsrsSettings,
    pub input: FsrsInput,
}

/// What an answer writes into `cards.data` besides `lrt`/`pos`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsrsWrite {
    pub memory: MemoryState,
    pub desired_retention: f32,
    pub decay: f32,
}

/// How many cards a memory-state update rewrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryUpdate {
    pub cards: usize,
}

/// The optimiser's answer (Anki's `ComputeFsrsParamsResponse`, plus whether we saved it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Optimized {
    /// The parameters the optimiser settled on (the current ones when they fit better).
    pub params: Vec<f32>,
    /// Training items found (0: no usable history; the parameters are then unchanged).
    pub fsrs_items: usize,
    /// Reviews those items came from.
    pub reviews: usize,
    /// The parameters differ from the preset's (to Anki's 4 decimals) and were saved.
    pub applied: bool,
}

/// `cards.data` after an answer: `lrt` = now, `pos` kept from a new card, and the FSRS fields
/// set (FSRS on) or cleared except `decay` (FSRS off), as Anki's answer path leaves them.
pub fn answered_card_data(
    old: &str,
    new_position: Option<i64>,
    now_secs: i64,
    fsrs: Option<&FsrsWrite>,
) -> String {
    let mut data = CardData::parse(old);
    if let Some(pos) = new_position {
        data.pos = Some(u32::try_from(pos.max(0)).unwrap_or(u32::MAX));
    }
    data.lrt = Some(now_secs);
    match fsrs {
        Some(f) => {
            data.set_memory(Some(f.memory));
            data.desired_retention = Some(f.desired_retention);
            data.decay = Some(f.decay);
        }
        None => {
            data.set_memory(None);
            data.desired_retention = None;
        }
    }
    data.to_json()
}

fn fsrs_error(e: impl Into<FsrsError>) -> CollectionError {
    CollectionError::Fsrs(e.into())
}

/// The decks JSON as `id → (preset id, filtered, desired-retention override)`.
struct DeckPresets(HashMap<i64, (i64, bool, Option<f32>)>);

impl DeckPresets {
    fn read(col: &Collection) -> Result<Self> {
        let decks = col.read_json_shared(ColJson::Decks)?;
        let map = decks
            .iter()
            .filter_map(|(k, v)| {
                let id = v
                    .get("id")
                    .and_then(Value::as_i64)
                    .or_else(|| k.parse().ok())?;
                let filtered = v.get("dyn").and_then(Value::as_i64).unwrap_or(0) != 0;
                let conf = v
                    .get("conf")
                    .and_then(Value::as_i64)
                    .unwrap_or(DEFAULT_DCONF_ID);
                Some((id, (conf, filtered, deck_desired_retention(v))))
            })
            .collect();
        Ok(Self(map))
    }

    fn preset_of(&self, deck: i64) -> i64 {
        self.0.get(&deck).map_or(DEFAULT_DCONF_ID, |d| d.0)
    }

    fn retention_of(&self, deck: i64) -> Option<f32> {
        self.0.get(&deck).and_then(|d| d.2)
    }

    /// Normal decks using `preset`.
    fn decks_of(&self, preset: i64) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .0
            .iter()
            .filter(|(_, (conf, filtered, _))| *conf == preset && !filtered)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    fn presets(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .0
            .values()
            .filter(|(_, filtered, _)| !filtered)
            .map(|(conf, _, _)| *conf)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl Collection {
    /// A preset's dconf entry; a dangling id falls back to preset 1, as answering does.
    fn dconf_entry(&self, conf_id: i64) -> Result<Value> {
        let dconf = self.read_json_shared(ColJson::Dconf)?;
        Ok(dconf
            .get(&conf_id.to_string())
            .or_else(|| dconf.get(&DEFAULT_DCONF_ID.to_string()))
            .cloned()
            .unwrap_or_else(crate::schema::default_dconf))
    }

    /// Is the collection-wide FSRS switch on?
    pub fn fsrs_enabled(&self) -> Result<bool> {
        Ok(fsrs_enabled(&self.read_json(ColJson::Conf)?))
    }

    /// A preset's FSRS fields (parameters, retentions, …).
    pub fn preset_fsrs(&self, conf_id: i64) -> Result<PresetFsrs> {
        let dconf = self.read_json_shared(ColJson::Dconf)?;
        let entry = dconf
            .get(&conf_id.to_string())
            .ok_or_else(|| CollectionError::NotFound(format!("preset {conf_id} not found")))?;
        Ok(PresetFsrs::from_dconf_json(entry))
    }

    /// The FSRS inputs for answering `card` now, or `None` when FSRS is off. A reviewed card
    /// without a memory state (imported, or moved into the preset) gets one from its revlog
    /// first, as Anki's `card_state_updater` does.
    pub(crate) fn card_fsrs(
        &self,
        card: &Card,
        conf: &JsonObject,
        timing: &Timing,
    ) -> Result<Option<CardFsrs>> {
        if !fsrs_enabled(conf) {
            return Ok(None);
        }
        let decks = DeckPresets::read(self)?;
        let home = card.home_deck_id();
        let preset = PresetFsrs::from_dconf_json(&self.dconf_entry(decks.preset_of(home))?);
        let settings = preset.settings(decks.retention_of(home), conf);
        let data = CardData::parse(&card.data);
        let mut memory = data.memory();
        if memory.is_none() && card.ctype != CardType::New {
            let model = settings.model().map_err(CollectionError::Fsrs)?;
            let revlog = storage::fsrs::revlog_for_cards(self.conn(), &format!("[{}]", card.id))?;
            let item = item_for_memory_state(
                &model,
                revlog,
                timing.next_day_at,
                preset.historical_retention,
                preset.ignore_before_ms,
            )
            .map_err(fsrs_error)?;
            memory = match item {
                Some(i) => Some(
                    model
                        .memory_state(i.item, i.starting_state)
                        .map_err(fsrs_error)?,
                ),
                None if card.ivl == 0 => None,
                None => Some(
                    model
                        .memory_state_from_sm2(
                            card.factor as f32 / 1000.0,
                            card.ivl as f32,
                            preset.historical_retention,
                        )
                        .map_err(fsrs_error)?,
                ),
            };
        }
        let last_review = match data.lrt {
            Some(t) => Some(t),
            None => storage::fsrs::last_review_secs(self.conn(), card.id)?,
        };
        let days_elapsed = last_review.map_or(0, |t| (timing.next_day_at - t).max(0) / 86_400);
        Ok(Some(CardFsrs {
            settings,
            input: FsrsInput {
                memory,
                days_elapsed: u32::try_from(days_elapsed).unwrap_or(u32::MAX),
            },
        }))
    }

    /// The four button intervals of `card`: FSRS's when the collection has it on, else SM-2's.
    pub(crate) fn button_intervals(
        &self,
        card: &Card,
        conf: &DeckConfig,
        timing: &Timing,
    ) -> Result<[NextInterval; 4]> {
        let col_conf = self.read_json_shared(ColJson::Conf)?;
        match self.card_fsrs(card, &col_conf, timing)? {
            Some(f) => next_intervals_fsrs(&card.sched(), conf, &f.settings, f.input, timing)
                .map_err(CollectionError::Fsrs),
            None => Ok(javumbo_scheduler::next_intervals(
                &card.sched(),
                conf,
                timing,
            )),
        }
    }

    /// What each button (Again, Hard, Good, Easy) would schedule for a card now.
    pub fn card_next_intervals(&self, card_id: i64) -> Result<[NextInterval; 4]> {
        let card = storage::cards::get(self.conn(), card_id)?
            .ok_or_else(|| CollectionError::NotFound(format!("card {card_id} not found")))?;
        let conf = self.deck_config_for(card.home_deck_id())?;
        self.button_intervals(&card, &conf, &self.timing()?)
    }

    /// Switch FSRS on or off for the whole collection (`col.conf` `fsrs`). Switching it recomputes
    /// (on) or clears (off) the memory state of every reviewed card, as saving Anki's deck
    /// options with the switch toggled does; setting it to its current value changes nothing.
    pub fn set_fsrs_enabled(&self, enabled: bool) -> Result<MemoryUpdate> {
        self.atomic(|c| {
            let mut conf = c.read_json(ColJson::Conf)?;
            if fsrs_enabled(&conf) == enabled {
                return Ok(MemoryUpdate::default());
            }
            conf.insert(settings::KEY_FSRS.into(), Value::Bool(enabled));
            c.write_json(ColJson::Conf, &conf)?;
            let mut total = MemoryUpdate::default();
            for preset in DeckPresets::read(c)?.presets() {
                total.cards += c.update_memory_states(preset)?.cards;
            }
            c.touch()?;
            Ok(total)
        })
    }

    /// Set the collection-wide "short-term scheduling with learning steps" switch.
    pub fn set_fsrs_short_term_with_steps(&self, enabled: bool) -> Result<()> {
        self.atomic(|c| {
            let mut conf = c.read_json(ColJson::Conf)?;
            conf.insert(
                settings::KEY_SHORT_TERM_WITH_STEPS.into(),
                Value::Bool(enabled),
            );
            c.write_json(ColJson::Conf, &conf)?;
            c.touch()
        })
    }

    /// Save a preset's FSRS parameters (`fsrsParams6`; empty = the defaults, which also clears
    /// the older FSRS-5/4 lists as Anki does) and/or desired retention (0.7–0.99). Memory states
    /// of the preset's cards are recomputed when either changed and FSRS is on.
    pub fn set_preset_fsrs(
        &self,
        conf_id: i64,
        params: Option<&[f32]>,
        desired_retention: Option<f32>,
    ) -> Result<MemoryUpdate> {
        if let Some(p) = params {
            FSRS::new(p).map_err(|e| {
                CollectionError::InvalidInput(format!("invalid FSRS parameters: {e:?}"))
            })?;
        }
        if let Some(r) = desired_retention
            && !(0.7..=0.99).contains(&r)
        {
            return Err(CollectionError::InvalidInput(format!(
                "desired retention {r} is outside 0.7–0.99"
            )));
        }
        self.atomic(|c| {
            let mut dconf = c.read_json(ColJson::Dconf)?;
            let entry = dconf
                .get_mut(&conf_id.to_string())
                .and_then(Value::as_object_mut)
                .ok_or_else(|| CollectionError::NotFound(format!("preset {conf_id} not found")))?;
            let before = PresetFsrs::from_dconf_json(&Value::Object(entry.clone()));
            if let Some(p) = params {
                entry.insert(settings::KEY_PARAMS_6.into(), serde_json::json!(p));
                if p.is_empty() {
                    entry.insert(settings::KEY_PARAMS_5.into(), serde_json::json!([]));
                    entry.insert(settings::KEY_PARAMS_4.into(), serde_json::json!([]));
                }
            }
            if let Some(r) = desired_retention {
                entry.insert(settings::KEY_DESIRED_RETENTION.into(), serde_json::json!(r));
            }
            let after = PresetFsrs::from_dconf_json(&Value::Object(entry.clone()));
            c.write_json(ColJson::Dconf, &dconf)?;
            let changed = before.params != after.params
                || before.desired_retention != after.desired_retention;
            let update = if changed && c.fsrs_enabled()? {
                c.update_memory_states(conf_id)?
            } else {
                MemoryUpdate::default()
            };
            c.touch()?;
            Ok(update)
        })
    }

    /// Recompute the memory state of every reviewed card of a preset's decks from its revlog
    /// (FSRS on), or clear it (FSRS off): Anki's `update_memory_state` without rescheduling.
    pub fn recompute_memory_states(&self, conf_id: i64) -> Result<MemoryUpdate> {
        self.atomic(|c| {
            let n = c.update_memory_states(conf_id)?;
            c.touch()?;
            Ok(n)
        })
    }

    fn update_memory_states(&self, conf_id: i64) -> Result<MemoryUpdate> {
        let col_conf = self.read_json_shared(ColJson::Conf)?;
        let timing = self.timing_at(&col_conf, self.clock().now_secs())?;
        let now = self.clock().now_secs();
        let decks = DeckPresets::read(self)?;
        let deck_ids = decks.decks_of(conf_id);
        let cards: Vec<_> =
            storage::fsrs::cards_in_home_decks(self.conn(), &storage::id_array(&deck_ids))?
                .into_iter()
                .filter(|c| c.ctype != i64::from(CardType::New))
                .collect();
        let cids: Vec<i64> = cards.iter().map(|c| c.id).collect();
        let revlog = storage::fsrs::revlog_for_cards(self.conn(), &storage::id_array(&cids))?;
        let by_card: HashMap<i64, &storage::fsrs::FsrsCardRow> =
            cards.iter().map(|c| (c.id, c)).collect();

        let enabled = fsrs_enabled(&col_conf);
        let preset = PresetFsrs::from_dconf_json(&self.dconf_entry(conf_id)?);
        let model = FSRS::new(if enabled { &preset.params } else { &[] }).map_err(fsrs_error)?;
        let decay = decay_from_params(&preset.params);
        let mut update = MemoryUpdate::default();
        // Only cards with a revlog are touched, as Anki's search over the revlog does.
        for group in revlog.chunk_by(|a: &Review, b: &Review| a.cid == b.cid) {
            let Some(card) = by_card.get(&group[0].cid) else {
                continue;
            };
            let mut data = CardData::parse(&card.data);
            if enabled {
                let item = item_for_memory_state(
                    &model,
                    group.to_vec(),
                    timing.next_day_at,
                    preset.historical_retention,
                    preset.ignore_before_ms,
                )
                .map_err(fsrs_error)?;
                let memory = match item {
                    Some(i) => Some(
                        model
                            .memory_state(i.item, i.starting_state)
                            .map_err(fsrs_error)?,
                    ),
                    None => None,
                };
                data.set_memory(memory);
                data.desired_retention = Some(
                    decks
                        .retention_of(card.home_deck)
                        .unwrap_or(preset.desired_retention),
                );
                data.decay = Some(decay);
            } else {
                data.clear_fsrs();
            }
            storage::fsrs::set_data(self.conn(), card.id, &data.to_json(), now)?;
            update.cards += 1;
        }
        Ok(update)
    }

    /// The cards the optimiser learns from: the preset's unsuspended cards.
    fn training_card_ids(&self, conf_id: i64) -> Result<Vec<i64>> {
        let decks = DeckPresets::read(self)?;
        Ok(storage::fsrs::cards_in_home_decks(
            self.conn(),
            &storage::id_array(&decks.decks_of(conf_id)),
        )?
        .into_iter()
        .filter(|c| c.queue != i64::from(javumbo_scheduler::CardQueue::Suspended))
        .map(|c| c.id)
        .collect())
    }

    /// How many revlog rows optimising `conf_id` reads: a caller can refuse a history too large
    /// for one request before paying for it (the count is one indexed query).
    pub fn fsrs_training_reviews(&self, conf_id: i64) -> Result<usize> {
        self.preset_fsrs(conf_id)?;
        let cids = self.training_card_ids(conf_id)?;
        storage::fsrs::count_revlog_for_cards(self.conn(), &storage::id_array(&cids))
    }

    /// Optimise a preset's parameters from its revlog as Anki's deck-options "Optimize" button
    /// does: the preset's unsuspended cards, 8 epochs, short-term on, relearning steps within a
    /// day counted, and the current parameters kept when they fit the history at least as well.
    /// With `apply`, parameters that differ (to 4 decimals) are saved and memory states updated.
    ///
    /// A custom `weightSearch` is not interpreted (javumbo has no Anki search language): the
    /// preset's cards are always used.
    pub fn optimize_fsrs_params(&self, conf_id: i64, apply: bool) -> Result<Optimized> {
        let preset = self.preset_fsrs(conf_id)?;
        let dconf = self.dconf_entry(conf_id)?;
        let relearn = DeckConfig::from_dconf_json(&dconf).relearn_steps;
        let timing = self.timing()?;
        let cids = self.training_card_ids(conf_id)?;
        let revlog = storage::fsrs::revlog_for_cards(self.conn(), &storage::id_array(&cids))?;
        let (items, card_ids, reviews) =
            items_for_training(revlog, timing.next_day_at, preset.ignore_before_ms);
        let current = preset.params.clone();
        if items.is_empty() {
            return Ok(Optimized {
                params: current,
                fsrs_items: 0,
                reviews,
                applied: false,
            });
        }
        let relearning_steps_in_day = relearning_steps_in_day(&relearn);
        let params = optimise(items.clone(), card_ids, &current, relearning_steps_in_day)
            .map_err(fsrs_error)?;
        let fsrs_items = items.len();
        let same = !current.is_empty()
            && current.len() == params.len()
            && current
                .iter()
                .zip(&params)
                .all(|(a, b)| format!("{a:.4}") == format!("{b:.4}"));
        let applied = apply && !same && !params.is_empty();
        if applied {
            self.set_preset_fsrs(conf_id, Some(&params), None)?;
        }
        Ok(Optimized {
            params,
            fsrs_items,
            reviews,
            applied,
        })
    }
}

/// The deck-options screen counts relearning steps until they add up to a day.
fn relearning_steps_in_day(steps: &[f32]) -> usize {
    let mut total = 0.0;
    let mut n = 0;
    for s in steps {
        total += s;
        if total >= 1440.0 {
            break;
        }
        n += 1;
    }
    n
}

/// Anki's `compute_params` core: train, then keep the current parameters if they predict the
/// history at least as well (unless several relearning steps would make them collapse).
fn optimise(
    items: Vec<fsrs::FSRSItem>,
    card_ids: Vec<i64>,
    current: &[f32],
    relearning_steps: usize,
) -> std::result::Result<Vec<f32>, fsrs::FSRSError> {
    let input = ComputeParametersInput {
        train_set: items.clone(),
        card_ids: Some(card_ids),
        progress: None,
        enable_short_term: true,
        num_relearning_steps: Some(relearning_steps),
        training_config: Some(TrainingConfig {
            num_epochs: 8,
            ..Default::default()
        }),
    };
    let mut params = fsrs::compute_parameters(input)?;
    if let Ok(current_fsrs) = FSRS::new(current) {
        let current_loss = current_fsrs.evaluate(items.clone(), |_| true)?.log_loss;
        let optimized_loss = FSRS::new(&params)?.evaluate(items, |_| true)?.log_loss;
        if current_loss <= optimized_loss {
            if relearning_steps <= 1 {
                params = current.to_vec();
            } else {
                let start = MemoryState {
                    stability: 1.0,
                    difficulty: 1.0,
                };
                let mut short_term = current_fsrs.next_states(Some(start), 0.9, 2)?.again.memory;
                for _ in 0..relearning_steps {
                    short_term = current_fsrs
                        .next_states(Some(short_term), 0.9, 0)?
                        .good
                        .memory;
                }
                if short_term.stability < start.stability {
                    params = current.to_vec();
                }
            }
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests;
