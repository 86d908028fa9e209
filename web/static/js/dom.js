// A few DOM helpers. Text always goes in as text nodes, never as HTML:
// message content is whatever another user typed.

/**
 * h('button', {class: 'x', onclick: f, 'aria-label': 'Send'}, 'Send')
 * Attributes are set with setAttribute (true → present, false/null → absent);
 * on* keys add listeners; children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Tells screen readers something without moving focus. */
export function announce(text) {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  // A change after a tick is announced even when the text repeats.
  setTimeout(() => { el.textContent = text; }, 50);
}

/** A short message at the bottom of the screen. */
export function toast(text) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: 'toast' }, text);
  box.append(t);
  setTimeout(() => t.remove(), 5000);
}

/**
 * An avatar: the picture at url when there is one, else (and while it
 * fails to load: its URL expired, say) initials on a colour chosen from
 * the id. At 32% lightness white holds 4.5:1 on every hue (yellow is the
 * worst: 4.8:1). Decorative: the name is always said beside it.
 */
export function avatar(id, name, hueOf, initialsOf, extra = '', url = '') {
  const el = h('span', {
    class: `avatar ${extra}`.trim(),
    'aria-hidden': 'true',
    style: { background: `hsl(${hueOf(id)} 45% 32%)` },
  }, initialsOf(name));
  if (url) {
    const img = h('img', { class: 'avatar-img', src: url, alt: '', 'data-testid': 'avatar-img', decoding: 'async' });
    img.addEventListener('error', () => img.remove());
    el.append(img);
  }
  return el;
}

/**
 * The "Bot" badge after a bot's name: text, so that a screen reader says
 * it as part of the name ("Echo, Bot"); null for a person.
 * @param {boolean} bot
 */
export function botBadge(bot) {
  if (!bot) return null;
  return h('span', { class: 'bot-badge', 'data-testid': 'bot-badge' }, h('span', { class: 'visually-hidden' }, ', '), 'Bot');
}
