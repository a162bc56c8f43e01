// Tiny DOM helpers. Everything user- or server-provided goes in as text nodes; the only HTML we
// render is card content, and that passes through sanitizeCardHtml first.

/**
 * h('button', {class: 'btn', onclick: fn, 'aria-label': 'x'}, 'text', childNode, [more])
 * Attribute values of false/null/undefined are skipped; true sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** SVG element (namespaced) with the same calling convention as h(). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Anki fields are HTML. Imported decks come from strangers, so keep formatting tags only, with no
// attributes at all (no href, no on*, no style): the rest is unwrapped to its text.
const ALLOWED = new Set([
  'B', 'I', 'U', 'EM', 'STRONG', 'BR', 'DIV', 'P', 'SPAN', 'UL', 'OL', 'LI', 'SUB', 'SUP',
  'CODE', 'PRE', 'HR', 'SMALL', 'MARK', 'S', 'DEL', 'INS', 'BLOCKQUOTE', 'TABLE', 'THEAD',
  'TBODY', 'TR', 'TD', 'TH', 'H1', 'H2', 'H3', 'H4',
]);
const DROP = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'IFRAME', 'OBJECT', 'EMBED', 'NOSCRIPT', 'HEAD', 'TITLE']);

const ATTRIBUTES = /<([a-zA-Z][\w-]*)(?:\s(?:[^>"']|"[^"]*"|'[^']*')*?)?(\/?)>/g;

// In rendered cards (`rendered: true`) two attributes survive: `class` (the note type's CSS and
// Anki's cloze markup use it; card CSS is scoped to the card) and an image's file name, which
// goes through mediaUrl(). Everything else is dropped as for plain fields.
const CLASS_ATTR = /\sclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i;
const SRC_ATTR = /\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i;

function keepSafeAttributes(tag, attrs, close) {
  const keep = [];
  const cls = attrs.match(CLASS_ATTR);
  if (cls) keep.push(`class="${(cls[1] ?? cls[2] ?? cls[3]).replace(/[^\w\s-]/g, '')}"`);
  if (tag.toLowerCase() === 'img') {
    const src = attrs.match(SRC_ATTR);
    if (src) keep.push(`data-media="${(src[1] ?? src[2] ?? src[3]).replace(/"/g, '&quot;')}"`);
  }
  return `<${tag}${keep.length ? ` ${keep.join(' ')}` : ''}${close}>`;
}

/**
 * Card HTML → a safe DocumentFragment. DOMParser documents are inert (no scripts, no loads).
 * `rendered`: the HTML of a card as the API renders it (see keepSafeAttributes above), with
 * `mediaUrl(name)` giving image URLs.
 */
export function sanitizeCardHtml(html, { rendered = false, mediaUrl = () => null } = {}) {
  // Attributes are dropped anyway; removing them before parsing also spares the console a CSP
  // report for every inline style or handler in an imported deck (the page's CSP forbids them,
  // and Chrome checks it even in an inert document).
  const bare = String(html ?? '').replace(ATTRIBUTES, (m, tag, close) => (rendered
    ? keepSafeAttributes(tag, m.slice(tag.length + 1, m.length - 1 - close.length), close)
    : `<${tag}${close}>`));
  const doc = new DOMParser().parseFromString(`<body>${bare}</body>`, 'text/html');
  const out = document.createDocumentFragment();
  copy(doc.body, out, rendered ? mediaUrl : null);
  return out;
}

function copy(from, to, mediaUrl) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.append(document.createTextNode(node.textContent));
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const tag = node.tagName.toUpperCase();
      if (DROP.has(tag)) continue;
      if (tag === 'IMG' && mediaUrl) {
        const name = node.getAttribute('data-media') || '';
        const url = name ? mediaUrl(name) : null;
        to.append(url
          ? h('img', { src: url, alt: name, class: node.getAttribute('class') || null })
          : h('span', { class: 'media-missing' }, name ? `[${name}]` : ''));
      } else if (ALLOWED.has(tag)) {
        const el = document.createElement(tag.toLowerCase());
        const cls = mediaUrl && node.getAttribute('class');
        if (cls) el.setAttribute('class', cls);
        copy(node, el, mediaUrl);
        to.append(el);
      } else {
        copy(node, to, mediaUrl);
      }
    }
  }
}

/**
 * Apply a card's note-type CSS to `.anki-card` elements only: `@scope` keeps its selectors
 * (`.card`, `.cloze`, …) inside the card, so the CSS cannot restyle the app. A constructed
 * stylesheet is script-made, so the page's strict `style-src` still holds. One sheet per CSS text.
 */
const cardSheets = new Map();
export function applyCardCss(css) {
  if (!css || typeof CSSStyleSheet === 'undefined' || !document.adoptedStyleSheets) return;
  if (cardSheets.has(css)) return;
  try {
    const sheet = new CSSStyleSheet();
    // `@import` cannot be in a constructed sheet; a note type's CSS has no business with it.
    sheet.replaceSync(`@scope (.anki-card) { ${css.replace(/@import[^;]*;/gi, '')} }`);
    cardSheets.set(css, sheet);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  } catch {
    // Unparsable CSS: the card shows unstyled.
  }
}

/** Plain text of a card field, for one-line previews in lists. */
export function cardText(html) {
  const frag = sanitizeCardHtml(String(html ?? '').replace(/<br\s*\/?>/gi, ' '));
  const div = document.createElement('div');
  div.append(frag);
  return div.textContent.replace(/\s+/g, ' ').trim();
}

// The editor is a plain textarea: line breaks become Anki's <br> and back.
export const fieldToText = (html) => String(html ?? '').replace(/<br\s*\/?>/gi, '\n');
export const textToField = (text) => String(text ?? '').trim().replace(/\r?\n/g, '<br>');

/** Replace the contents of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}
