// Deck statistics as an SVG bar chart (no chart library). The SVG is role="img" with a <title>
// and <desc> listing every number, so the chart is fully readable without seeing it.

import { h, mount, s } from '../dom.js';
import { t } from '../i18n.js';

// Anki's own colours for these card states, so the chart reads like the desktop app's.
export const CATEGORIES = [
  { key: 'New', cls: 'new' },
  { key: 'Learning', cls: 'learn' },
  { key: 'Relearning', cls: 'relearn' },
  { key: 'Young', cls: 'young' },
  { key: 'Mature', cls: 'mature' },
  { key: 'Suspended', cls: 'suspended' },
  { key: 'Buried', cls: 'buried' },
];

export async function render(main, ctx) {
  const { api, params } = ctx;
  const deckId = Number(params[0]);
  const [stats, decks] = await Promise.all([api.deckStats(deckId), api.decks().catch(() => ({ decks: [] }))]);
  const deckName = decks.decks.find((d) => d.id === deckId)?.name || '';
  const counts = stats.counts || {};
  const total = stats.total ?? CATEGORIES.reduce((n, c) => n + (counts[c.key] || 0), 0);

  mount(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/decks' }, t('nav.decks')), ' / ', deckName),
    h('div', { class: 'page-head' },
      h('h1', {}, t('stats.title', { deck: deckName })),
      h('a', { class: 'btn', href: `#/decks/${deckId}/cards` }, t('decks.cards'))),
    h('section', { class: 'panel' },
      h('p', { class: 'stat-total' }, h('strong', { id: 'stats-total' }, String(total)), ' ', t('stats.cards')),
      chart(counts, total, deckName)));
}

function chart(counts, total, deckName) {
  const rowH = 36;
  const labelW = 120;
  const valueW = 96;
  const width = 560;
  const barMax = width - labelW - valueW;
  const height = CATEGORIES.length * rowH + 8;
  const max = Math.max(1, ...CATEGORIES.map((c) => counts[c.key] || 0));
  const desc = CATEGORIES.map((c) => `${t(`stats.${c.key}`)}: ${counts[c.key] || 0}`).join(', ');

  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', id: 'stats-chart',
    'aria-labelledby': 'chart-title chart-desc', preserveAspectRatio: 'xMinYMin meet',
  },
  s('title', { id: 'chart-title' }, t('stats.chartTitle', { deck: deckName })),
  s('desc', { id: 'chart-desc' }, `${desc}. ${t('stats.total')}: ${total}`));

  CATEGORIES.forEach((c, i) => {
    const n = counts[c.key] || 0;
    const y = i * rowH + 4;
    const w = n === 0 ? 0 : Math.max(3, (n / max) * barMax);
    const pct = total ? Math.round((n / total) * 100) : 0;
    svg.append(s('g', { class: `bar bar-${c.cls}`, 'data-category': c.key, 'data-count': n },
      s('text', { x: labelW - 10, y: y + rowH / 2, class: 'bar-label', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, t(`stats.${c.key}`)),
      s('rect', { x: labelW, y: y + 6, width: barMax, height: rowH - 12, rx: 4, class: 'bar-track' }),
      s('rect', { x: labelW, y: y + 6, width: w, height: rowH - 12, rx: 4, class: 'bar-fill' }),
      s('text', { x: width - 4, y: y + rowH / 2, class: 'bar-value', 'text-anchor': 'end', 'dominant-baseline': 'middle' },
        total ? `${n} · ${pct}%` : String(n))));
  });
  return svg;
}
