// Dialogs (native <dialog>: focus is trapped inside, Escape closes, focus
// returns to the button that opened it) and the per-member receipt popover.

import { h, fill, avatar, botBadge } from '../dom.js';
import { hue, initials, fullTime, lastSeen, clockTime } from '../format.js';
import { tickMark, tickLabel } from './ticks.js';

/**
 * Shows a modal form. onSubmit returns the dialog's result (closing it) or
 * throws to show an error and keep it open.
 * @returns {Promise<any>} the result, or null when cancelled
 */
export function modal({ title, description, fields, submitLabel, onSubmit, extra, onClose }) {
  const opener = document.activeElement;
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = submitLabel ? h('button', { type: 'submit', class: 'primary' }, submitLabel) : null;
  const cancel = h('button', { type: 'button', class: 'secondary', value: 'cancel' }, submitLabel ? 'Cancel' : 'Close');
  const form = h('form', { method: 'dialog', class: 'dialog-form', novalidate: true },
    h('h2', { id: titleId, class: 'dialog-title' }, title),
    description ? h('p', { class: 'dialog-desc' }, description) : null,
    fields,
    error,
    extra || null,
    h('div', { class: 'dialog-actions' }, cancel, submit));
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
  document.body.append(dlg);

  return new Promise((resolve) => {
    let result = null;
    const close = (v) => {
      result = v;
      dlg.close();
    };
    cancel.addEventListener('click', () => close(null));
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (onClose) onClose();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!onSubmit) return close(null);
      error.textContent = '';
      if (submit) submit.disabled = true;
      try {
        const v = await onSubmit();
        if (v !== undefined) close(v);
      } catch (ex) {
        error.textContent = ex.message || 'Something went wrong.';
      } finally {
        if (submit) submit.disabled = false;
      }
    });
    dlg.showModal();
    const first = dlg.querySelector('input, textarea, button:not(.secondary)');
    if (first) first.focus();
  });
}

function field(id, label, attrs = {}, hint = null) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h(attrs.multiline ? 'textarea' : 'input', { id, ...attrs, multiline: null }),
    hint);
}

/** Splits what was typed into entries (usernames or IDs) on commas, spaces and new lines. */
function entries(text) {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

/** A user ID as the server makes them (a ULID); a leading @ always means a username. */
const ID_SHAPE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const isId = (entry) => ID_SHAPE.test(entry);
const bare = (entry) => entry.replace(/^@/, '');

/** What to say about entries that name no one, each by what it looked like. */
function unknownText(bad) {
  return bad.map((b) => (isId(b) ? `No user with the ID ${b}.` : `No user called ${bare(b)}.`)).join(' ');
}

/**
 * The user's contacts: the peers of their 1:1 conversations, newest chat
 * first, those whose profile is known here.
 */
function contacts(client) {
  const out = [];
  for (const conv of client.ordered()) {
    const u = client.user(client.peer(conv));
    if (u && !out.includes(u)) out.push(u);
  }
  return out;
}

/**
 * Resolves entries to users for one dialog: an ID through GET /users/{id},
 * a username (with or without @) among the contacts first, then through
 * the SDK's findUser. Answers are remembered while the dialog is open:
 * each lookup by name counts against the server's per-user limit.
 * @returns {(entry: string) => Promise<object|null>} null: no such user
 */
function resolver(client) {
  const known = new Map();
  const one = async (entry) => {
    const name = bare(entry).toLowerCase();
    const me = client.user(client.me);
    if (entry === client.me || (me && me.username.toLowerCase() === name)) return me || { user_id: client.me };
    const c = contacts(client).find((u) => u.user_id === entry || u.username.toLowerCase() === name);
    if (c) return c;
    if (!entry.startsWith('@') && isId(entry)) {
      try {
        const u = await client.parley.user(entry);
        client.users.set(u.user_id, u);
        return u;
      } catch (e) {
        if (e.status !== 404) throw e;
      }
    }
    try {
      const u = await client.parley.findUser(bare(entry));
      client.users.set(u.user_id, u);
      return u;
    } catch (e) {
      if (e.code === 'not_found' || e.code === 'invalid') return null;
      throw e;
    }
  };
  return (entry) => {
    const key = entry.startsWith('@') || !isId(entry) ? `@${bare(entry).toLowerCase()}` : entry;
    if (!known.has(key)) known.set(key, one(entry).catch((e) => { known.delete(key); throw e; }));
    return known.get(key);
  };
}

/** Resolves every entry: the users found, and the entries that name no one. */
async function resolveAll(resolve, list) {
  const users = await Promise.all(list.map((e) => resolve(e)));
  return { users: users.filter(Boolean), bad: list.filter((_, i) => !users[i]) };
}

/** A lookup refused or failed, said for people. */
function lookupError(e) {
  if (e.code === 'rate_limited') {
    const s = Math.max(1, Math.ceil((e.retryAfterMs || 1000) / 1000));
    return new Error(`Too many lookups by username: try again in ${s} s.`);
  }
  return e;
}

/**
 * Shows who the entries belong to once typing pauses, or which name no
 * one: a username is looked up on the server only after a pause, and
 * once, to spare the lookup limit.
 */
function lookup(client, resolve, input, out) {
  let seq = 0;
  let timer = 0;
  const show = async () => {
    const mine = ++seq;
    const list = entries(input.value);
    if (!list.length) { out.textContent = ''; out.classList.remove('bad'); return; }
    let text;
    let bad = false;
    try {
      const r = await resolveAll(resolve, list);
      bad = r.bad.length > 0;
      text = bad ? unknownText(r.bad) : `✓ ${r.users.map((u) => (u.user_id === client.me ? 'you' : `${u.display_name} (@${u.username})`)).join(', ')}`;
    } catch (e) {
      bad = true;
      text = lookupError(e).message;
    }
    if (mine !== seq) return;
    out.textContent = text;
    out.classList.toggle('bad', bad);
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(show, 500);
  });
  return show;
}

function explain(e) {
  switch (e.code) {
    case 'invalid': return new Error('No user with that ID (or it is your own).');
    case 'group_full': return new Error('A group holds at most 100 members.');
    case 'forbidden': return new Error('Only a group admin can do that.');
    case 'not_found': return new Error('That user is not a member.');
    case 'rate_limited': return lookupError(e);
    default: return e;
  }
}

/** The contacts as a <datalist> an input suggests as its user types. */
function contactList(client, id) {
  return h('datalist', { id }, contacts(client).map((u) => h('option', { value: `@${u.username}` }, u.display_name)));
}

/**
 * Suggestion buttons under a textarea of several entries: the contacts
 * whose name or username starts with the entry at the caret, not entered
 * yet. Choosing one puts its @username in place of that entry.
 */
function suggestions(client, area, onPick) {
  const box = h('div', { class: 'suggestions', role: 'group', 'aria-label': 'Suggested contacts' });
  box.hidden = true;
  const current = () => {
    const before = area.value.slice(0, area.selectionStart ?? area.value.length);
    const m = before.match(/[^\s,;]*$/);
    return { start: before.length - m[0].length, word: m[0] };
  };
  const render = () => {
    const { word } = current();
    const q = bare(word).toLowerCase();
    const entered = new Set(entries(area.value).map((e) => bare(e).toLowerCase()));
    const hits = q ? contacts(client).filter((u) => !entered.has(u.username.toLowerCase())
      && (u.username.toLowerCase().startsWith(q) || (u.display_name || '').toLowerCase().split(/\s+/).some((w) => w.startsWith(q)))).slice(0, 5) : [];
    fill(box, hits.map((u) => h('button', {
      type: 'button',
      class: 'secondary small suggestion',
      onclick: () => {
        const { start, word: w } = current();
        area.value = `${area.value.slice(0, start)}@${u.username}\n${area.value.slice(start + w.length).replace(/^[^\s,;]*/, '')}`;
        area.focus();
        render();
        onPick();
      },
    }, `Add ${u.display_name} (@${u.username})`)));
    box.hidden = hits.length === 0;
  };
  area.addEventListener('input', render);
  return box;
}

/** Starts (or reopens) a 1:1 chat from the other user's username or ID. */
export function newChatDialog(client) {
  const resolve = resolver(client);
  const out = h('p', { class: 'lookup', 'aria-live': 'polite' });
  const f = field('new-chat-id', 'Their username or user ID', {
    required: true, spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off', list: 'new-chat-contacts', placeholder: '@username',
  }, out);
  f.append(contactList(client, 'new-chat-contacts'));
  const input = f.querySelector('input');
  lookup(client, resolve, input, out);
  return modal({
    title: 'New chat',
    description: 'Type your friend’s username (or paste the user ID shown at the top left of their Parley).',
    fields: f,
    submitLabel: 'Start chat',
    onSubmit: async () => {
      const entry = input.value.trim();
      if (!entry) throw new Error('Enter a username or a user ID.');
      let u;
      try {
        u = await resolve(entry);
      } catch (e) {
        throw lookupError(e);
      }
      if (!u) throw new Error(unknownText([entry]));
      if (u.user_id === client.me) throw new Error('That is you.');
      try {
        return await client.createDirect(u.user_id);
      } catch (e) {
        throw explain(e);
      }
    },
  });
}

/** Creates a group from a name and members' usernames or IDs. */
export function newGroupDialog(client) {
  const resolve = resolver(client);
  const name = field('new-group-name', 'Group name', { required: true, maxlength: '100' });
  const out = h('p', { class: 'lookup', 'aria-live': 'polite' });
  const members = field('new-group-members', 'Members’ usernames or user IDs', {
    multiline: true, rows: '3', spellcheck: 'false', autocapitalize: 'off', placeholder: 'One @username or ID per line, or separated by commas',
  }, out);
  const area = members.querySelector('textarea');
  const show = lookup(client, resolve, area, out);
  members.insertBefore(suggestions(client, area, show), out);
  return modal({
    title: 'New group',
    description: 'You will be the group’s admin. You can add and remove members later.',
    fields: [name, members],
    submitLabel: 'Create group',
    onSubmit: async () => {
      const n = name.querySelector('input').value.trim();
      if (!n) throw new Error('Give the group a name.');
      let r;
      try {
        r = await resolveAll(resolve, entries(area.value));
      } catch (e) {
        throw lookupError(e);
      }
      if (r.bad.length) throw new Error(unknownText(r.bad));
      const list = [...new Set(r.users.map((u) => u.user_id))].filter((id) => id !== client.me);
      try {
        return await client.createGroup(n, list);
      } catch (e) {
        throw explain(e);
      }
    },
  });
}

/** The members of a group: add and remove (admins), leave (anyone). */
export function membersDialog(client, convId) {
  const list = h('ul', { class: 'member-list', 'aria-label': 'Members' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const render = () => {
    const conv = client.conversation(convId);
    if (!conv) return;
    const admin = client.isAdmin(conv);
    const sorted = [...conv.participants].sort((a, b) => (a.user_id === client.me ? -1 : b.user_id === client.me ? 1 : 0));
    fill(list, sorted.map((p) => {
      const name = client.name(p.user_id, { you: false });
      const pres = client.presence.get(p.user_id);
      const status = p.user_id === client.me ? 'you'
        : pres ? (pres.status === 'online' ? 'online' : lastSeen(pres.last_seen)) : '';
      return h('li', { class: 'member' },
        avatar(p.user_id, name, hue, initials),
        h('span', { class: 'member-main' },
          h('span', { class: 'member-name' }, name, botBadge(client.isBot(p.user_id)), p.user_id === client.me ? ' (you)' : ''),
          h('span', { class: 'member-status' }, status)),
        p.role === 'admin' ? h('span', { class: 'role' }, 'admin') : null,
        admin && p.user_id !== client.me
          ? h('button', {
            type: 'button',
            class: 'secondary small',
            'aria-label': `Remove ${name}`,
            onclick: async (e) => {
              e.target.disabled = true;
              error.textContent = '';
              try {
                await client.removeMember(convId, p.user_id);
              } catch (ex) {
                error.textContent = explain(ex).message;
                e.target.disabled = false;
              }
            },
          }, 'Remove')
          : null);
    }));
    addRow.hidden = !admin;
  };

  const out = h('p', { class: 'lookup', 'aria-live': 'polite' });
  const addInput = h('input', {
    id: 'add-member-id', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off', list: 'add-member-contacts',
  });
  const resolve = resolver(client);
  lookup(client, resolve, addInput, out);
  const addButton = h('button', { type: 'button', class: 'primary small' }, 'Add');
  const add = async () => {
    const entry = addInput.value.trim();
    if (!entry) return;
    addButton.disabled = true;
    error.textContent = '';
    try {
      const u = await resolve(entry);
      if (!u) throw new Error(unknownText([entry]));
      await client.addMember(convId, u.user_id);
      addInput.value = '';
      out.textContent = '';
    } catch (ex) {
      error.textContent = explain(ex).message;
    } finally {
      addButton.disabled = false;
      addInput.focus();
    }
  };
  addButton.addEventListener('click', add);
  addInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); add(); }
  });
  const addRow = h('div', { class: 'field add-member' },
    h('label', { for: 'add-member-id' }, 'Add a member by username or user ID'),
    h('div', { class: 'inline' }, addInput, addButton),
    contactList(client, 'add-member-contacts'),
    out);
  const leave = h('button', {
    type: 'button',
    class: 'danger small',
    onclick: async () => {
      if (!confirm('Leave this group?')) return;
      try {
        await client.removeMember(convId, client.me);
        leave.closest('dialog').close();
      } catch (ex) {
        error.textContent = explain(ex).message;
      }
    },
  }, 'Leave group');

  const onChange = () => render();
  client.addEventListener('conversations', onChange);
  client.addEventListener('users', onChange);
  client.addEventListener('presence', onChange);
  render();
  const conv = client.conversation(convId);
  return modal({
    title: conv ? `${client.title(conv)} — members` : 'Members',
    fields: [addRow, list, error],
    extra: h('div', { class: 'leave-row' }, leave),
    onClose: () => {
      client.removeEventListener('conversations', onChange);
      client.removeEventListener('users', onChange);
      client.removeEventListener('presence', onChange);
    },
  });
}

/**
 * Who has an own message, per member: a popover next to its ticks,
 * from GET /messages/{id}/status, and below it where the message stands on
 * each of their devices (GET /messages/{id}/trace), so that "why one
 * tick?" has an answer. Escape or a click elsewhere closes it.
 */
export async function receiptPopover(client, m, anchor) {
  document.querySelectorAll('.receipts[popover]').forEach((p) => p.remove());
  const body = h('div', { class: 'receipts-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const pop = h('div', {
    popover: 'auto',
    class: 'receipts',
    role: 'dialog',
    'aria-label': 'Message info',
    tabindex: '-1',
  }, h('h3', { class: 'receipts-title' }, 'Message info'), body);
  document.body.append(pop);
  pop.addEventListener('toggle', (e) => {
    if (e.newState === 'closed') {
      pop.remove();
      if (anchor.isConnected) anchor.focus();
    }
  });
  pop.showPopover();
  place(pop, anchor);
  pop.focus();
  try {
    const res = await client.statusDetail(m);
    const order = { read: 0, delivered: 1, sent: 2 };
    const rows = [...(res.recipients || [])].sort((a, b) => order[a.status] - order[b.status]);
    const agg = res.status || client.statusOf(m);
    const readN = rows.filter((x) => x.status === 'read').length;
    const gotN = rows.filter((x) => x.status !== 'sent').length;
    fill(body,
      h('p', { class: 'receipts-summary' }, tickMark(agg, true),
        rows.length > 1 ? `Read by ${readN} of ${rows.length} · delivered to ${gotN} of ${rows.length}` : tickLabel(agg)),
      rows.length
        ? h('ul', { class: 'receipt-list' }, rows.map((x) => h('li', { class: 'receipt' },
          h('span', { class: 'receipt-name' }, client.name(x.user_id, { you: false })),
          tickMark(x.status, true),
          h('span', { class: 'receipt-status' }, tickLabel(x.status)),
          h('time', { class: 'receipt-time', datetime: new Date(x.updated_at || 0).toISOString() }, x.updated_at ? fullTime(x.updated_at) : ''))))
        : h('p', { class: 'muted' }, 'No recipients.'));
  } catch (e) {
    fill(body, h('p', { class: 'form-error' }, e.message || 'Could not load the receipts.'));
  }
  if (pop.isConnected) place(pop, anchor);
  try {
    const tr = await client.trace(m);
    if (!pop.isConnected) return;
    tr.recipients.forEach((r) => client.ensureUser(r.user_id));
    pop.append(traceSection(client, tr));
  } catch (e) {
    pop.append(h('p', { class: 'form-error' }, e.message || 'Could not load the delivery details.'));
  }
  if (pop.isConnected) place(pop, anchor);
}

/** The delivery trace in plain words: per recipient, then per device. */
function traceSection(client, tr) {
  const recipient = (r) => {
    let what = 'not delivered yet';
    if (r.status === 'read') what = `read ${clockTime(r.read_at)}`;
    else if (r.status === 'delivered') what = `delivered ${clockTime(r.delivered_at)}`;
    else if (r.status === 'expired') what = 'expired before it arrived';
    return h('li', { class: 'trace-recipient' },
      h('span', { class: 'trace-who' }, `${client.name(r.user_id, { you: false })} · ${what.trim()}`),
      r.devices.length
        ? h('ul', { class: 'trace-devices' }, r.devices.map((d) => h('li', { class: 'trace-device' },
          `${d.device_name || 'device'}: ${deviceWords(d)}`)))
        : h('p', { class: 'trace-none muted' }, 'No device to show.'));
  };
  return h('section', { class: 'trace', 'aria-label': 'Delivery' },
    h('h4', { class: 'trace-title' }, 'Delivery'),
    h('p', { class: 'trace-sent muted' }, `Sent ${clockTime(tr.committed_at)}`),
    tr.recipients.length ? h('ul', { class: 'trace-list' }, tr.recipients.map(recipient)) : h('p', { class: 'muted' }, 'No recipients.'));
}

/** One device's state of a message, as a sentence fragment. */
function deviceWords(d) {
  const at = (label, ms) => (ms ? `${label} ${clockTime(ms)}` : label);
  const where = d.online ? '' : ' (offline)';
  switch (d.state) {
    case 'acknowledged':
      return [d.written_at ? at('written', d.written_at) : '', at('acknowledged', d.acknowledged_at)].filter(Boolean).join(', ');
    case 'written':
      return at('written', d.written_at) + where;
    case 'expired':
      return 'expired before it arrived';
    default:
      return at('queued since', d.queued_since) + where;
  }
}

/** Puts a popover above its anchor, or below when there is no room above. */
export function place(pop, anchor) {
  const r = anchor.getBoundingClientRect();
  const hgt = pop.offsetHeight;
  const top = r.top - hgt - 6 >= 8 ? r.top - hgt - 6 : Math.min(r.bottom + 6, window.innerHeight - hgt - 8);
  pop.style.top = `${Math.max(8, top)}px`;
  pop.style.left = `${Math.max(8, Math.min(window.innerWidth - pop.offsetWidth - 8, r.right - pop.offsetWidth))}px`;
}

/**
 * Chooses where to forward m: any number of chats, or one for a message
 * forwarded many times (the server takes one such forward at a time).
 * @returns {Promise<string[]|null>} the conversation ids, or null when cancelled
 */
export function forwardDialog(client, m, manyTimes) {
  const convs = [...client.convs.values()].sort((a, b) => (b.last_activity_at || 0) - (a.last_activity_at || 0));
  const type = manyTimes ? 'radio' : 'checkbox';
  const list = h('fieldset', { class: 'forward-list' },
    h('legend', { class: 'visually-hidden' }, manyTimes ? 'Forward to one chat' : 'Forward to'),
    convs.map((c) => h('label', { class: 'forward-choice' },
      h('input', { type, name: 'forward-to', value: c.conversation_id, 'data-testid': 'forward-choice' }), ' ', client.title(c))));
  return modal({
    title: 'Forward message',
    description: manyTimes ? 'This message was forwarded many times: it can be forwarded to one chat at a time.' : 'Choose the chats to forward it to.',
    fields: [list],
    submitLabel: 'Forward',
    onSubmit: async () => {
      const ids = [...list.querySelectorAll('input:checked')].map((i) => i.value);
      if (!ids.length) throw new Error('Choose a chat.');
      return ids;
    },
  });
}
