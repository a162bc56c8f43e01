// Studying: question → "show answer" → four ratings labelled with their next intervals.
// Keyboard: Space shows the answer, then Space = Good; 1–4 rate. Every state change is announced
// in an aria-live region so screen-reader users hear the answer and the result of each rating.

import { cardText, h, mount, sanitizeCardHtml } from '../dom.js';
import { answerPart, isRendered, renderedCard, renderedText } from '../card.js';
import { t } from '../i18n.js';
import { rememberCurrentDeck } from './decks.js';

const EASES = [
  { ease: 1, key: 'again', cls: 'again' },
  { ease: 2, key: 'hard', cls: 'hard' },
  { ease: 3, key: 'good', cls: 'good' },
  { ease: 4, key: 'easy', cls: 'easy' },
];

/** Progress of this browser session (reset on reload): the count per rating. */
const progress = { 1: 0, 2: 0, 3: 0, 4: 0 };
const reviewed = () => progress[1] + progress[2] + progress[3] + progress[4];

export async function render(main, ctx) {
  const { api, session } = ctx;
  const deckNames = new Map();
  try {
    for (const d of (await api.decks()).decks) deckNames.set(d.id, d.name);
  } catch (err) {
    if (err.status === 401) throw err;
    // Deck names are decoration; studying works without them.
  }

  const live = h('p', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true', id: 'study-live' });
  const progressEl = h('div', { class: 'study-progress', 'aria-label': t('study.progressLabel') });
  const stage = h('div', { class: 'study-stage' });
  const heading = h('h1', {}, t('study.title'));
  mount(main, h('div', { class: 'study' },
    h('div', { class: 'page-head' }, heading, progressEl), stage, live,
    h('p', { class: 'shortcuts muted' }, t('study.shortcuts'))));

  let state = 'loading'; // loading | question | answer | done
  let card = null;
  let shownAt = 0;
  let busy = false;

  const renderProgress = () => {
    mount(progressEl,
      h('span', { class: 'progress-total' }, t('study.reviewed', { n: reviewed() })),
      EASES.map((e) => h('span', { class: `pill pill-${e.cls}`, title: t(`study.${e.key}`) },
        h('span', { class: 'sr-only' }, `${t(`study.${e.key}`)}: `), String(progress[e.ease]))));
  };

  async function next() {
    state = 'loading';
    busy = true;
    try {
      const res = await api.nextCard();
      if (res.cardId == null) return showDone(res.message);
      card = res;
      if (card.deckId) rememberCurrentDeck(session, card.deckId);
      showQuestion();
    } catch (err) {
      if (err.status === 401) return;
      mount(stage, h('div', { class: 'panel' },
        h('p', { class: 'error', role: 'alert' }, err.message),
        h('button', { type: 'button', class: 'btn', onclick: next }, t('common.retry'))));
    } finally {
      busy = false;
    }
  }

  // A rendered card (Anki's HTML) shows the whole answer side in place of the question, as
  // Anki does (its answer repeats the question through {{FrontSide}}); plain fields (older
  // servers) show the back under the front.
  function face(html, cls, label, side) {
    const body = h('div', { class: 'card-content', lang: 'en' });
    if (side) body.append(renderedCard(card, side));
    else body.append(sanitizeCardHtml(html));
    return h('section', { class: `card-face ${cls}`, 'aria-label': label }, body);
  }
  const questionText = () => (isRendered(card) ? renderedText(card.questionHtml) : cardText(card.front));
  const answerText = () => (isRendered(card) ? renderedText(answerPart(card.answerHtml)) : cardText(card.back));

  function showQuestion() {
    state = 'question';
    shownAt = performance.now();
    const deck = deckNames.get(card.deckId);
    const showBtn = h('button', { type: 'button', class: 'btn btn-primary btn-lg', id: 'show-answer', onclick: showAnswer },
      t('study.showAnswer'), h('kbd', {}, t('study.space')));
    mount(stage,
      h('div', { class: 'flashcard panel', 'data-card-id': card.cardId },
        deck ? h('p', { class: 'deck-label muted' }, deck) : null,
        studyCounts(card),
        face(card.front, 'front', t('study.question'), isRendered(card) ? 'question' : null)),
      h('div', { class: 'answer-bar' }, showBtn),
      h('div', { class: 'row card-tools' },
        h('button', { type: 'button', class: 'btn btn-quiet', id: 'bury-card', onclick: () => hide('bury') }, t('study.bury')),
        h('button', { type: 'button', class: 'btn btn-quiet', id: 'suspend-card', onclick: () => hide('suspend') }, t('study.suspend'))));
    live.textContent = t('study.announceQuestion', { text: questionText() });
    showBtn.focus();
  }

  function showAnswer() {
    if (state !== 'question') return;
    state = 'answer';
    const flash = stage.querySelector('.flashcard');
    if (isRendered(card)) {
      flash.querySelector('.card-face.front')?.remove();
      flash.append(face(null, 'back', t('study.answer'), 'answer'));
    } else {
      flash.append(h('hr', { class: 'divider' }), face(card.back, 'back', t('study.answer')));
    }
    const intervals = Array.isArray(card.intervals) ? card.intervals : [];
    const buttons = EASES.map((e, i) => h('button', {
      type: 'button', class: `btn btn-ease btn-${e.cls}`, 'data-ease': e.ease,
      'aria-keyshortcuts': String(e.ease),
      onclick: () => rate(e.ease),
    },
    h('span', { class: 'ease-interval' }, intervals[i] || '\u00a0'),
    h('span', { class: 'ease-label' }, t(`study.${e.key}`)),
    h('kbd', {}, String(e.ease))));
    mount(stage.querySelector('.answer-bar'),
      h('div', { class: 'ease-buttons', role: 'group', 'aria-label': t('study.rateLabel') }, buttons));
    live.textContent = t('study.announceAnswer', { text: answerText() });
    buttons[2].focus();
  }

  /** Bury or suspend the card on screen (Anki's reviewer actions) and move on. */
  async function hide(action) {
    if (!card || busy || (state !== 'question' && state !== 'answer')) return;
    busy = true;
    try {
      await api.cardAction(card.cardId, action);
      ctx.toast(t(action === 'bury' ? 'study.buried' : 'study.suspended'));
      busy = false;
      await next();
    } catch (err) {
      busy = false;
      if (err.status === 401) return;
      ctx.toast(err.message, 'error');
    }
  }

  async function rate(ease) {
    if (state !== 'answer' || busy) return;
    busy = true;
    const label = t(`study.${EASES[ease - 1].key}`);
    const interval = (card.intervals || [])[ease - 1];
    try {
      const timeTaken = Math.round(performance.now() - shownAt);
      await api.answer(card.cardId, ease, timeTaken, card.noteId);
      progress[ease] += 1;
      renderProgress();
      busy = false;
      await next();
      // Announce after the next card's text so the result is the last (and heard) message.
      live.textContent = `${interval ? t('study.announceRated', { label, interval }) : label}. ${live.textContent}`;
    } catch (err) {
      busy = false;
      if (err.status === 401) return;
      ctx.toast(err.message, 'error');
    }
  }

  function showDone(message) {
    state = 'done';
    card = null;
    const n = reviewed();
    mount(stage, h('div', { class: 'panel done', id: 'nothing-due' },
      h('div', { class: 'done-icon', 'aria-hidden': 'true' }, '✓'),
      h('h2', {}, t('study.doneTitle')),
      h('p', {}, n ? t('study.doneReviewed', { n }) : t('study.doneNothing')),
      message ? h('p', { class: 'muted' }, message) : null,
      h('div', { class: 'row' },
        h('a', { class: 'btn btn-primary', href: '#/decks' }, t('study.backToDecks')))));
    live.textContent = t('study.doneTitle');
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target?.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || e.target?.isContentEditable) return;
    if (e.key === ' ' || e.code === 'Space') {
      if (state !== 'question' && state !== 'answer') return;
      // Stop the focused button from also "clicking" on keyup, and the page from scrolling.
      e.preventDefault();
      if (e.repeat || busy) return;
      if (state === 'question') showAnswer();
      else rate(3);
    } else if (/^[1-4]$/.test(e.key) && state === 'answer') {
      e.preventDefault();
      if (!e.repeat) rate(Number(e.key));
    }
  }
  // Space on a focused button activates it on keyup: swallow that too.
  function onKeyUp(e) {
    if ((e.key === ' ' || e.code === 'Space') && (state === 'question' || state === 'answer')) {
      const tag = e.target?.tagName;
      if (tag !== 'INPUT' && tag !== 'TEXTAREA' && tag !== 'SELECT') e.preventDefault();
    }
  }

  document.addEventListener('keydown', onKey);
  document.addEventListener('keyup', onKeyUp);
  renderProgress();
  await next();
  // The first card was rendered off-screen; give its button focus once the view is shown, so
  // keyboard users can press Enter right away (Space and 1–4 work wherever focus is).
  main.addEventListener('view-shown', () => stage.querySelector('#show-answer, .btn-good')?.focus(), { once: true });
  return () => {
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('keyup', onKeyUp);
  };
}

/**
 * Anki's study-screen numbers (new, learning, review left today, this card included), as
 * `GET /api/review` sends them; nothing from a server without them. The card's own queue is
 * underlined, as in Anki (0 new, 1/3 learning, 2 review).
 */
function studyCounts(card) {
  if (!Number.isInteger(card.newCount)) return null;
  const current = card.queue === 0 ? 'new' : card.queue === 2 ? 'review' : 'learn';
  const pill = (kind, label, n) => h('span', { class: `pill pill-${kind}${kind === current ? ' pill-current' : ''}` },
    h('strong', {}, String(n)), ' ', label);
  return h('p', { class: 'deck-counts study-counts', 'aria-label': t('study.countsLabel') },
    pill('new', t('decks.countNew'), card.newCount),
    pill('learn', t('decks.countLearning'), card.learnCount),
    pill('review', t('decks.countReview'), card.reviewCount));
}
