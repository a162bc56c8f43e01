// Deck list: counts per deck, create / rename / delete / set current, and the way into studying.

import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

// `GET /api/decks` marks the current deck (`current: true`), and that always wins. The browser
// also remembers its last choice, for the study screen and for an API that marks none (after
// the current deck was deleted, the server falls back to the hidden Default deck).
const currentKey = (session) => `javumbo.current.${session.user?.username || ''}`;
export const getCurrentDeck = (session) => Number(localStorage.getItem(currentKey(session))) || null;
export const rememberCurrentDeck = (session, id) => localStorage.setItem(currentKey(session), String(id));

export async function render(main, ctx) {
  const { api, session } = ctx;
  const { decks } = await api.decks();
  const flagged = decks.find((d) => d.current === true);
  if (flagged) rememberCurrentDeck(session, flagged.id);
  const current = getCurrentDeck(session);
  const list = h('ul', { class: 'deck-list', 'aria-label': t('decks.listLabel') });
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite' });

  const createError = h('p', { class: 'error', role: 'alert' });
  const createForm = h('form', { class: 'inline-form', id: 'create-deck' },
    h('label', { for: 'new-deck-name', class: 'sr-only' }, t('decks.newName')),
    h('input', { id: 'new-deck-name', name: 'name', required: true, maxlength: 100, placeholder: t('decks.newName') }),
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('decks.create')));
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    createError.textContent = '';
    const name = createForm.elements.name.value.trim();
    try {
      await api.createDeck(name);
      ctx.toast(t('decks.created', { name }));
      ctx.navigate('/decks');
    } catch (err) {
      createError.textContent = err.message;
      createForm.elements.name.focus();
    }
  });

  mount(main,
    h('div', { class: 'page-head' },
      h('h1', {}, t('decks.title')),
      h('a', { class: 'btn btn-primary', href: '#/study' }, t('decks.studyNow'))),
    h('section', { class: 'panel', 'aria-labelledby': 'create-deck-title' },
      h('h2', { id: 'create-deck-title' }, t('decks.createTitle')), createForm, createError),
    decks.length === 0 ? h('p', { class: 'empty' }, t('decks.none')) : list,
    live);

  // The pills are Anki's deck-list numbers, due today within the deck's limits, which
  // `GET /api/decks` sends (`newCount`, `learnCount`, `reviewCount`); a server without them
  // gets the category totals of the deck's stats. The total comes from the stats, fetched in
  // parallel, filling rows as they arrive.
  for (const deck of decks) {
    const counts = h('p', { class: 'deck-counts muted' }, t('common.loading'));
    const row = deckRow(deck, deck.id === current, counts, ctx, live);
    list.append(row);
    const due = Number.isInteger(deck.newCount);
    api.deckStats(deck.id).then((s) => {
      const c = s.counts || {};
      mount(counts,
        pill('new', t('decks.countNew'), due ? deck.newCount : (c.New ?? 0)),
        pill('learn', t('decks.countLearning'), due ? deck.learnCount : (c.Learning ?? 0) + (c.Relearning ?? 0)),
        pill('review', t('decks.countReview'), due ? deck.reviewCount : (c.Young ?? 0) + (c.Mature ?? 0)),
        h('span', { class: 'total' }, t('decks.total', { n: s.total ?? 0 })));
    }).catch((err) => { counts.textContent = err.message; });
  }
}

function pill(kind, label, n) {
  return h('span', { class: `pill pill-${kind}` }, h('strong', {}, String(n)), ' ', label);
}

function deckRow(deck, isCurrent, counts, ctx, live) {
  const { api, session } = ctx;
  const nameId = `deck-name-${deck.id}`;
  const title = h('h2', { class: 'deck-name', id: nameId }, deck.name);
  const setCurrent = async () => {
    await api.setCurrentDeck(deck.id);
    rememberCurrentDeck(session, deck.id);
  };
  const act = (fn) => async () => {
    try { await fn(); } catch (err) { ctx.toast(err.message, 'error'); }
  };

  const actions = h('div', { class: 'deck-actions' },
    h('button', {
      type: 'button', class: 'btn btn-primary', 'aria-describedby': nameId,
      onclick: act(async () => { await setCurrent(); ctx.navigate('/study'); }),
    }, t('decks.study')),
    h('a', { class: 'btn', href: `#/decks/${deck.id}/cards`, 'aria-describedby': nameId }, t('decks.cards')),
    h('a', { class: 'btn', href: `#/decks/${deck.id}/stats`, 'aria-describedby': nameId }, t('decks.stats')),
    // A filtered deck (built on a device) has no options and no daily limits to extend.
    deck.filtered ? null : h('a', { class: 'btn', href: `#/decks/${deck.id}/options`, 'aria-describedby': nameId }, t('decks.options')),
    deck.filtered ? null : h('button', {
      type: 'button', class: 'btn btn-quiet', 'aria-describedby': nameId, 'data-custom-study': true,
      onclick: act(() => startCustomStudy()),
    }, t('decks.customStudy')),
    isCurrent ? null : h('button', {
      type: 'button', class: 'btn btn-quiet', 'aria-describedby': nameId,
      onclick: act(async () => {
        await setCurrent();
        ctx.toast(t('decks.nowCurrent', { name: deck.name }));
        ctx.navigate('/decks');
      }),
    }, t('decks.makeCurrent')),
    // Anki's "Empty": a filtered deck's cards go back to their decks; the deck stays.
    deck.filtered ? h('button', {
      type: 'button', class: 'btn btn-quiet', 'aria-describedby': nameId,
      onclick: act(async () => {
        const res = await api.emptyDeck(deck.id);
        ctx.toast(t('decks.emptied', { name: deck.name, n: res.returned }));
        ctx.navigate('/decks');
      }),
    }, t('decks.empty')) : null,
    h('button', {
      type: 'button', class: 'btn btn-quiet', 'aria-describedby': nameId, 'data-rename': true,
      onclick: () => startRename(),
    }, t('decks.rename')),
    h('button', {
      type: 'button', class: 'btn btn-quiet btn-danger', 'aria-describedby': nameId,
      onclick: act(async () => {
        const question = deck.filtered ? 'decks.confirmDeleteFiltered' : 'decks.confirmDelete';
        if (!window.confirm(t(question, { name: deck.name }))) return;
        const res = await api.deleteDeck(deck.id);
        ctx.toast(res.message || t('decks.deleted', { name: deck.name }));
        ctx.navigate('/decks');
      }),
    }, t('decks.delete')));

  const head = h('div', { class: 'deck-head' }, title,
    isCurrent ? h('span', { class: 'badge' }, t('decks.current')) : null,
    deck.filtered ? h('span', { class: 'badge', title: t('decks.filteredHint') }, t('decks.filtered')) : null);
  const li = h('li', { class: 'deck panel', 'data-deck-id': deck.id, 'data-deck-name': deck.name },
    head, counts, actions);

  // Anki's custom study dialog: increase today's new or review limit by a number (the last one
  // used is the default, as in Anki), or build the "Custom Study Session" filtered deck from
  // this deck (forgotten cards, review ahead, preview new cards, or cards by state) and study it.
  async function startCustomStudy() {
    if (li.querySelector('form.custom-study')) return;
    const defaults = await api.customStudy(deck.id);
    const error = h('p', { class: 'error', role: 'alert' });
    // value → [label, what the number means, its range, its default, the request body].
    const choices = {
      new: ['decks.extendNew', 'decks.extendBy', -9999, 9999, defaults.extendNew || 10, (n) => ({ newLimitDelta: n })],
      review: ['decks.extendReview', 'decks.extendBy', -9999, 9999, defaults.extendReview || 50, (n) => ({ reviewLimitDelta: n })],
      forgot: ['decks.sessionForgot', 'decks.sessionDays', 1, 30, 1, (n) => ({ forgotDays: n })],
      ahead: ['decks.sessionAhead', 'decks.sessionDays', 1, 99999, 1, (n) => ({ reviewAheadDays: n })],
      preview: ['decks.sessionPreview', 'decks.sessionDays', 1, 99999, 1, (n) => ({ previewDays: n })],
      cramNew: ['decks.sessionCramNew', 'decks.sessionCards', 1, 99999, 100, (n) => ({ cram: { kind: 'new', cardLimit: n } })],
      cramDue: ['decks.sessionCramDue', 'decks.sessionCards', 1, 99999, 100, (n) => ({ cram: { kind: 'due', cardLimit: n } })],
      cramReview: ['decks.sessionCramReview', 'decks.sessionCards', 1, 99999, 100, (n) => ({ cram: { kind: 'review', cardLimit: n } })],
      cramAll: ['decks.sessionCramAll', 'decks.sessionCards', 1, 99999, 100, (n) => ({ cram: { kind: 'all', cardLimit: n } })],
    };
    const which = h('select', { name: 'which', id: `extend-which-${deck.id}` },
      ...Object.entries(choices).map(([value, [label]]) => h('option', { value }, t(label))));
    const by = h('input', {
      name: 'by', id: `extend-by-${deck.id}`, type: 'number', min: -9999, max: 9999, required: true,
      value: String(defaults.extendNew || 10),
    });
    const byLabel = h('label', { for: `extend-by-${deck.id}` }, t('decks.extendBy'));
    // A cram may name tags (space-separated), the last ones chosen for this deck first.
    const tagsOf = (flag) => (defaults.tags || []).filter((tag) => tag[flag]).map((tag) => tag.name).join(' ');
    const include = h('input', { name: 'include', id: `cram-include-${deck.id}`, value: tagsOf('include'), list: `cram-tags-${deck.id}` });
    const exclude = h('input', { name: 'exclude', id: `cram-exclude-${deck.id}`, value: tagsOf('exclude'), list: `cram-tags-${deck.id}` });
    const tagFields = h('span', { class: 'cram-tags', hidden: true },
      h('datalist', { id: `cram-tags-${deck.id}` }, ...(defaults.tags || []).map((tag) => h('option', { value: tag.name }))),
      h('label', { for: `cram-include-${deck.id}` }, t('decks.cramInclude')), include,
      h('label', { for: `cram-exclude-${deck.id}` }, t('decks.cramExclude')), exclude);
    which.addEventListener('change', () => {
      const [, unit, min, max, value] = choices[which.value];
      byLabel.textContent = t(unit);
      Object.assign(by, { min, max, value: String(value) });
      tagFields.hidden = !which.value.startsWith('cram');
    });
    const form = h('form', { class: 'inline-form custom-study' },
      h('label', { for: `extend-which-${deck.id}`, class: 'sr-only' }, t('decks.extendWhich', { name: deck.name })),
      which,
      byLabel,
      by,
      tagFields,
      h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save')),
      h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => { form.remove(); error.remove(); } }, t('common.cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      const change = choices[which.value][5](Number(by.value));
      if (change.cram) {
        const words = (input) => input.value.split(/\s+/).filter(Boolean);
        Object.assign(change.cram, { tagsToInclude: words(include), tagsToExclude: words(exclude) });
      }
      try {
        const res = await api.extendLimits(deck.id, change);
        if (res.session) {
          // The session deck is now the current deck: study it.
          rememberCurrentDeck(session, res.session.deckId);
          live.textContent = t('decks.sessionBuilt', { n: res.session.cards });
          ctx.toast(live.textContent);
          ctx.navigate('/study');
          return;
        }
        live.textContent = t('decks.extended', { name: deck.name, n: res.new, r: res.review });
        ctx.toast(live.textContent);
        ctx.navigate('/decks');
      } catch (err) {
        error.textContent = err.message;
        by.focus();
      }
    });
    actions.after(form);
    form.after(error);
    which.focus();
  }

  function startRename() {
    const error = h('p', { class: 'error', role: 'alert' });
    const input = h('input', { name: 'name', id: `rename-${deck.id}`, required: true, value: deck.name, maxlength: 100 });
    const form = h('form', { class: 'inline-form' },
      h('label', { for: `rename-${deck.id}`, class: 'sr-only' }, t('decks.renameLabel', { name: deck.name })),
      input,
      h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save')),
      h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => { form.replaceWith(head); error.remove(); li.querySelector('.deck-actions button[data-rename]')?.focus(); } }, t('common.cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      try {
        const res = await api.renameDeck(deck.id, input.value.trim());
        live.textContent = t('decks.renamed', { name: res.name || input.value.trim() });
        ctx.toast(live.textContent);
        ctx.navigate('/decks');
      } catch (err) {
        error.textContent = err.message;
        input.focus();
      }
    });
    head.replaceWith(form);
    form.after(error);
    input.focus();
    input.select();
  }
  return li;
}
