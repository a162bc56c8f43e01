// A card as the API renders it (Anki's question/answer HTML): sanitised, its note type's CSS
// scoped to it, audio markers turned into play buttons.

import { applyCardCss, cardText, h, sanitizeCardHtml } from './dom.js';
import { t } from './i18n.js';
import { loadMedia, mediaUrl } from './media.js';

// Anki's `question()`/`answer()` put `[anki:play:q:N]` / `[anki:play:a:N]` where a sound or
// TTS tag was; N indexes the side's list of audio items.
const PLAY = /\[anki:play:([qa]):(\d+)\]/g;

/** Whether the API sent the rendered card (older servers and the mock send fields only). */
export const isRendered = (c) => typeof c?.questionHtml === 'string';

function play(item) {
  if (item?.kind === 'sound') {
    loadMedia(item.filename).then((url) => {
      if (url) new Audio(url).play().catch(() => {});
    });
  } else if (item?.kind === 'tts' && typeof speechSynthesis !== 'undefined') {
    const u = new SpeechSynthesisUtterance(item.text);
    if (item.lang) u.lang = item.lang.replace('_', '-');
    if (item.speed) u.rate = item.speed;
    speechSynthesis.speak(u);
  }
}

function playButton(item) {
  const label = item?.kind === 'sound' ? item.filename : item?.text || '';
  const playable = item?.kind === 'tts' || (item?.kind === 'sound' && mediaUrl(item.filename));
  return h('button', {
    type: 'button', class: 'btn btn-quiet play-audio', disabled: !playable,
    'aria-label': t('study.play', { name: label }), title: label,
    onclick: () => play(item),
  }, '▶');
}

function replacePlayMarkers(root, av) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (PLAY.test(n.textContent)) texts.push(n);
  for (const node of texts) {
    const parts = [];
    let last = 0;
    const text = node.textContent;
    for (const m of text.matchAll(PLAY)) {
      parts.push(document.createTextNode(text.slice(last, m.index)));
      parts.push(playButton(av[m[1]][Number(m[2])]));
      last = m.index + m[0].length;
    }
    parts.push(document.createTextNode(text.slice(last)));
    node.replaceWith(...parts);
  }
}

/** One side of a rendered card: `side` is 'question' or 'answer'. */
export function renderedCard(c, side) {
  applyCardCss(c.css);
  const html = side === 'answer' ? c.answerHtml : c.questionHtml;
  const inner = h('div', { class: 'card' });
  inner.append(sanitizeCardHtml(html, { rendered: true, mediaUrl }));
  replacePlayMarkers(inner, { q: c.questionAvTags || [], a: c.answerAvTags || [] });
  return h('div', { class: 'anki-card' }, inner);
}

/** Plain text of rendered HTML, for previews and announcements. */
export const renderedText = (html) => cardText(String(html ?? '').replace(PLAY, ' '));

/** The part of an answer after Anki's `<hr id=answer>` (what the answer adds to the question). */
export function answerPart(html) {
  const s = String(html ?? '');
  const m = s.match(/<hr id=["']?answer["']?\s*\/?>/i);
  return m ? s.slice(m.index + m[0].length) : s;
}
