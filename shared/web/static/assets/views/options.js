// Deck options: the deck's preset (choose, create, clone, rename, delete) with every field of
// Anki's v3 deck-options screen, the deck's own limits, and FSRS (retention, parameters,
// optimise). Anki's ranges are checked here; whatever the server refuses is shown as it says it.

import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

const num = (key, label, min, max, step = 1) => ({ key, label, kind: 'number', min, max, step });
const steps = (key, label) => ({ key, label, kind: 'steps' });
const bool = (key, label) => ({ key, label, kind: 'bool' });
const pick = (key, label, choices) => ({ key, label, kind: 'select', choices });

const SECTIONS = [
  ['options.limits', [num('newPerDay', 'options.newPerDay', 0, 9999), num('reviewsPerDay', 'options.reviewsPerDay', 0, 9999)]],
  ['options.newCards', [
    steps('learnSteps', 'options.learnSteps'),
    num('graduatingIntervalGood', 'options.graduatingInterval', 1, 36500),
    num('graduatingIntervalEasy', 'options.easyInterval', 1, 36500),
    pick('newCardInsertOrder', 'options.insertOrder', [[0, 'Sequential'], [1, 'Random']]),
  ]],
  ['options.lapses', [
    steps('relearnSteps', 'options.relearnSteps'),
    num('minimumLapseInterval', 'options.minimumInterval', 1, 36500),
    num('leechThreshold', 'options.leechThreshold', 1, 9999),
    pick('leechAction', 'options.leechAction', [[0, 'Suspend card'], [1, 'Tag only']]),
  ]],
  ['options.burying', [
    bool('buryNew', 'options.buryNew'), bool('buryReviews', 'options.buryReviews'),
    bool('buryInterdayLearning', 'options.buryInterday'),
  ]],
  ['options.order', [
    pick('newCardGatherPriority', 'options.gather', [[0, 'Deck'], [5, 'Deck, then random notes'],
      [1, 'Ascending position'], [2, 'Descending position'], [3, 'Random notes'], [4, 'Random cards']]),
    pick('newCardSortOrder', 'options.sort', [[0, 'Card type, then order gathered'], [1, 'Order gathered'],
      [2, 'Card type, then random'], [3, 'Random note, then card type'], [4, 'Random']]),
    pick('newMix', 'options.newMix', [[0, 'Mix with reviews'], [1, 'Show after reviews'], [2, 'Show before reviews']]),
    pick('interdayLearningMix', 'options.interdayMix', [[0, 'Mix with reviews'], [1, 'Show after reviews'], [2, 'Show before reviews']]),
    pick('reviewOrder', 'options.reviewOrder', [[0, 'Due date, then random'], [1, 'Due date, then deck'],
      [2, 'Deck, then due date'], [3, 'Ascending intervals'], [4, 'Descending intervals'],
      [5, 'Ascending ease'], [6, 'Descending ease'], [7, 'Ascending retrievability'],
      [11, 'Descending retrievability'], [12, 'Relative overdueness'], [8, 'Random'],
      [9, 'Order added'], [10, 'Reverse order added']]),
  ]],
  ['options.advanced', [
    num('maximumReviewInterval', 'options.maxInterval', 1, 36500),
    num('initialEase', 'options.initialEase', 1.31, 5, 0.01),
    num('easyMultiplier', 'options.easyBonus', 1, 5, 0.01),
    num('hardMultiplier', 'options.hardInterval', 0.5, 1.3, 0.01),
    num('lapseMultiplier', 'options.newInterval', 0, 1, 0.01),
    num('intervalMultiplier', 'options.intervalModifier', 0.5, 2, 0.01),
  ]],
  ['options.fsrs', [num('desiredRetention', 'options.desiredRetention', 0.7, 0.99, 0.01), { key: 'fsrsParams', label: 'options.fsrsParams', kind: 'list' }]],
];

/** Steps as Anki writes them ("1m 10m 1d") → minutes; `null` when unreadable. */
export function parseSteps(text) {
  const out = [];
  for (const part of String(text).trim().split(/\s+/).filter(Boolean)) {
    const m = part.match(/^(\d+(?:\.\d+)?)([smhd]?)$/);
    if (!m) return null;
    const n = Number(m[1]);
    const unit = { s: 1 / 60, m: 1, '': 1, h: 60, d: 1440 }[m[2]];
    out.push(n * unit);
  }
  return out;
}

export function formatSteps(list) {
  return list.map((m) => (m >= 1440 && m % 1440 === 0 ? `${m / 1440}d`
    : m >= 60 && m % 60 === 0 ? `${m / 60}h` : `${m}m`)).join(' ');
}

function input(f, value) {
  const id = `opt-${f.key}`;
  let el;
  if (f.kind === 'bool') {
    el = h('input', { id, name: f.key, type: 'checkbox', checked: Boolean(value) });
    return h('label', { class: 'check' }, el, ' ', t(f.label));
  }
  if (f.kind === 'select') {
    el = h('select', { id, name: f.key }, f.choices.map(([v, label]) =>
      h('option', { value: String(v), selected: v === value }, label)));
  } else if (f.kind === 'steps') {
    el = h('input', { id, name: f.key, type: 'text', value: formatSteps(value || []) });
  } else if (f.kind === 'list') {
    el = h('input', { id, name: f.key, type: 'text', value: (value || []).join(', ') });
  } else {
    el = h('input', { id, name: f.key, type: 'number', min: f.min, max: f.max, step: f.step, value: String(value) });
  }
  return h('div', { class: 'field' }, h('label', { for: id }, t(f.label)), el);
}

/** The form's values, or a message naming the first field outside Anki's range. */
export function collect(form) {
  const changes = {};
  for (const [, fields] of SECTIONS) {
    for (const f of fields) {
      const el = form.querySelector(`#opt-${f.key}`);
      if (!el) continue;
      if (f.kind === 'bool') changes[f.key] = el.checked;
      else if (f.kind === 'select') changes[f.key] = Number(el.value);
      else if (f.kind === 'steps') {
        const v = parseSteps(el.value);
        if (!v) return { error: `${f.key}: write steps like "1m 10m 1d"` };
        changes[f.key] = v;
      } else if (f.kind === 'list') {
        const text = el.value.trim();
        const v = text ? text.split(/[\s,]+/).filter(Boolean).map(Number) : [];
        if (v.some((x) => !Number.isFinite(x))) return { error: `${f.key}: numbers only` };
        changes[f.key] = v;
      } else {
        const v = Number(el.value);
        if (el.value === '' || !Number.isFinite(v) || v < f.min || v > f.max) {
          return { error: `${f.key} must be between ${f.min} and ${f.max}` };
        }
        changes[f.key] = v;
      }
    }
  }
  return { changes };
}

function optionalLimit(el) {
  const text = el.value.trim();
  if (text === '') return { value: null };
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0 || v > 9999) return { error: `${el.name} must be between 0 and 9999` };
  return { value: v };
}

export async function render(main, ctx) {
  const { api, toast, params } = ctx;
  const deckId = Number(params[0]);
  const decks = (await api.decks()).decks;
  const deck = decks.find((d) => d.id === deckId);
  const [list, limits] = await Promise.all([api.presets(), api.deckLimits(deckId)]);
  let presets = list.presets;
  let preset = presets.find((p) => p.deckIds.includes(deckId)) || presets.find((p) => p.id === 1);

  const error = h('p', { class: 'error', role: 'alert', id: 'options-error' });
  const body = h('div', {});
  const presetSelect = h('select', { id: 'opt-preset' });
  const showError = (msg) => { error.textContent = msg; };

  const fillPresets = () => mount(presetSelect, presets.map((p) =>
    h('option', { value: String(p.id), selected: p.id === preset.id }, `${p.name} (${p.deckIds.length})`)));

  const deckNew = h('input', { id: 'opt-deck-new', name: 'newLimit', type: 'number', min: 0, max: 9999, value: limits.newLimit ?? '' });
  const deckRev = h('input', { id: 'opt-deck-review', name: 'reviewLimit', type: 'number', min: 0, max: 9999, value: limits.reviewLimit ?? '' });

  function renderPreset() {
    fillPresets();
    mount(body, SECTIONS.map(([title, fields]) => h('fieldset', { class: 'stack' },
      h('legend', {}, t(title)), fields.map((f) => input(f, preset[f.key])),
      title === 'options.limits' ? [
        h('div', { class: 'field' }, h('label', { for: 'opt-deck-new' }, t('options.deckNewLimit')), deckNew),
        h('div', { class: 'field' }, h('label', { for: 'opt-deck-review' }, t('options.deckReviewLimit')), deckRev),
      ] : null,
      title === 'options.fsrs' ? h('button', { type: 'button', class: 'btn', id: 'opt-optimize', onclick: optimize }, t('options.optimize')) : null)));
  }

  async function reload(id) {
    presets = (await api.presets()).presets;
    preset = presets.find((p) => p.id === id) || presets.find((p) => p.id === 1);
    renderPreset();
  }

  async function guarded(fn) {
    showError('');
    try { await fn(); } catch (err) { if (err.status !== 401) showError(err.message); }
  }

  presetSelect.addEventListener('change', () => guarded(async () => {
    const id = Number(presetSelect.value);
    await api.setDeckPreset(deckId, id);
    await reload(id);
  }));

  const presetName = () => {
    const name = window.prompt(t('options.presetName'), preset.name);
    return name && name.trim() ? name.trim() : null;
  };
  const addPreset = (clone) => guarded(async () => {
    const name = presetName();
    if (!name) return;
    const p = await api.createPreset(name, clone ? preset.id : undefined);
    await api.setDeckPreset(deckId, p.id);
    await reload(p.id);
  });
  const rename = () => guarded(async () => {
    const name = presetName();
    if (!name) return;
    await api.renamePreset(preset.id, name);
    await reload(preset.id);
  });
  const remove = () => guarded(async () => {
    await api.deletePreset(preset.id);
    toast(t('options.deleted'));
    await reload(1);
  });

  async function optimize() {
    await guarded(async () => {
      const r = await api.optimizePreset(preset.id, true);
      toast(t('options.optimized', { n: r.reviews }));
      await reload(preset.id);
    });
  }

  // Our own checks name the field and Anki's range; the browser's would block the submit silently.
  const form = h('form', { class: 'stack', id: 'options-form', novalidate: true },
    h('div', { class: 'row' },
      h('label', { for: 'opt-preset' }, t('options.preset')), presetSelect,
      h('button', { type: 'button', class: 'btn', id: 'opt-new', onclick: () => addPreset(false) }, t('options.newPreset')),
      h('button', { type: 'button', class: 'btn', id: 'opt-clone', onclick: () => addPreset(true) }, t('options.clonePreset')),
      h('button', { type: 'button', class: 'btn', id: 'opt-rename', onclick: rename }, t('options.renamePreset')),
      h('button', { type: 'button', class: 'btn', id: 'opt-delete', onclick: remove }, t('options.deletePreset'))),
    body, error,
    h('button', { class: 'btn btn-primary', type: 'submit', id: 'options-save' }, t('options.save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { changes, error: bad } = collect(form);
    if (bad) return showError(bad);
    const n = optionalLimit(deckNew);
    const r = optionalLimit(deckRev);
    if (n.error || r.error) return showError(n.error || r.error);
    guarded(async () => {
      preset = await api.updatePreset(preset.id, changes);
      await api.updateDeckLimits(deckId, {
        newLimit: n.value, reviewLimit: r.value,
        newLimitToday: limits.newLimitToday, reviewLimitToday: limits.reviewLimitToday,
      });
      toast(t('options.saved'));
    });
  });
  renderPreset();
  mount(main, h('div', { class: 'panel' },
    h('h1', {}, t('options.title', { name: deck ? deck.name : String(deckId) })), form));
}
