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

/** Card field HTML → a safe DocumentFragment. DOMParser documents are inert (no scripts, no loads). */
export function sanitizeCardHtml(html) {
  // Attributes are dropped anyway; removing them before parsing also spares the console a CSP
  // report for every inline style or handler in an imported deck (the page's CSP forbids them,
  // and Chrome checks it even in an inert document).
  const bare = String(html ?? '').replace(ATTRIBUTES, '<$1$2>');
  const doc = new DOMParser().parseFromString(`<body>${bare}</body>`, 'text/html');
  const out = document.createDocumentFragment();
  copy(doc.body, out);
  return out;
}

function copy(from, to) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.append(document.createTextNode(node.textContent));
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const tag = node.tagName.toUpperCase();
      if (DROP.has(tag)) continue;
      if (ALLOWED.has(tag)) {
        const el = document.createElement(tag.toLowerCase());
        copy(node, el);
        to.append(el);
      } else {
        copy(node, to);
      }
    }
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
