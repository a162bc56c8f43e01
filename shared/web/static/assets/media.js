// Where the web app turns a media file name of a note (`<img src="cat.jpg">`, `[sound:cat.mp3]`)
// into a URL. `GET /api/media/{name}` needs the Bearer token, which `<img src>` and `new Audio`
// cannot send, so the file is fetched with the header and shown through a blob URL (cached per
// name for the page's life). No token ever appears in a URL (logs, history, Referer).

import { request } from './api.js';

// A transparent 1×1 GIF stands in until the bytes arrive; the fragment carries the name.
const PLACEHOLDER = 'data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==';
const MARK = '#javumbo-media=';
const loaded = new Map(); // name → Promise<blob URL | null>

/** The blob URL of media file `filename`, fetched once (null when the server has no such file). */
export function loadMedia(filename) {
  if (!loaded.has(filename)) {
    const p = request('GET', `/api/media/${encodeURIComponent(filename)}`, { raw: true })
      .then(async (res) => (res.ok ? URL.createObjectURL(await res.blob()) : null))
      .catch(() => null);
    loaded.set(filename, p);
  }
  return loaded.get(filename);
}

/** URL of media file `filename` for an `<img>`: a placeholder the page swaps for the image. */
export function mediaUrl(filename) {
  if (!filename) return null;
  watch();
  return PLACEHOLDER + MARK + encodeURIComponent(filename);
}

async function hydrate(img) {
  const src = img.getAttribute('src') || '';
  const at = src.indexOf(MARK);
  if (at < 0) return;
  const name = decodeURIComponent(src.slice(at + MARK.length));
  img.dataset.media = name;
  const url = await loadMedia(name);
  if (url) img.setAttribute('src', url);
  else img.replaceWith(Object.assign(document.createElement('span'), {
    className: 'media-missing', textContent: `[${name}]`,
  }));
}

let observer = null;
function watch() {
  if (observer || typeof MutationObserver === 'undefined') return;
  const scan = (root) => {
    if (root.nodeType !== Node.ELEMENT_NODE) return;
    if (root.tagName === 'IMG') hydrate(root);
    else root.querySelectorAll?.(`img[src*="${MARK}"]`).forEach(hydrate);
  };
  observer = new MutationObserver((records) => {
    for (const r of records) r.addedNodes.forEach(scan);
  });
  observer.observe(document.documentElement, { childList: true, subtree: true });
  scan(document.documentElement);
}
