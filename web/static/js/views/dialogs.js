// Dialogs (native <dialog>: focus is trapped inside, Escape closes, focus
// returns to the button that opened it) and the per-member receipt popover.

import { h, fill, avatar } from '../dom.js';
import { hue, initials, fullTime, lastSeen } from '../format.js';
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

/** Splits pasted user IDs on commas, spaces and new lines. */
function ids(text) {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

/**
 * What to say about IDs that belong to no one, naming them when the user
 * entered several: "No user with that ID." says nothing about which.
 */
function unknownText(bad, entered) {
  if (entered === 1) return 'No user with that ID.';
  return bad.length === 1 ? `No user with the ID ${bad[0]}.` : `No users with the IDs ${bad.join(', ')}.`;
}

/** The IDs in list that belong to no user (404 from GET /users/{id}). */
async function unknownIds(client, list) {
  const found = await Promise.all(list.map(async (id) => {
    if (id === client.me || client.users.has(id)) return true;
    try {
      client.users.set(id, await client.parley.user(id));
      return true;
    } catch (e) {
      return e.status !== 404;
    }
  }));
  return list.filter((_, i) => !found[i]);
}

/** Shows who an entered ID belongs to, as the user types it. */
function lookup(client, input, out) {
  let seq = 0;
  input.addEventListener('input', async () => {
    const mine = ++seq;
    const list = ids(input.value);
    if (!list.length) { out.textContent = ''; return; }
    const names = await Promise.all(list.map(async (id) => {
      if (id === client.me) return 'you';
      try {
        const u = await client.parley.user(id);
        client.users.set(u.user_id, u);
        return `${u.display_name} (@${u.username})`;
      } catch {
        return null;
      }
    }));
    if (mine !== seq) return;
    const bad = list.filter((_, i) => !names[i]);
    out.textContent = bad.length ? unknownText(bad, list.length) : `✓ ${names.join(', ')}`;
    out.classList.toggle('bad', bad.length > 0);
  });
}

function explain(e) {
  switch (e.code) {
    case 'invalid': return new Error('No user with that ID (or it is your own).');
    case 'group_full': return new Error('A group holds at most 100 members.');
    case 'forbidden': return new Error('Only a group admin can do that.');
    case 'not_found': return new Error('That user is not a member.');
    default: return e;
  }
}

/** Starts (or reopens) a 1:1 chat from the other user's ID. */
export function newChatDialog(client) {
  const out = h('p', { class: 'lookup', 'aria-live': 'polite' });
  const f = field('new-chat-id', 'Their user ID', { required: true, spellcheck: 'false', autocomplete: 'off' }, out);
  const input = f.querySelector('input');
  lookup(client, input, out);
  return modal({
    title: 'New chat',
    description: 'Ask your friend for the user ID shown at the top left of their Parley, and paste it here.',
    fields: f,
    submitLabel: 'Start chat',
    onSubmit: async () => {
      const id = input.value.trim();
      if (!id) throw new Error('Enter a user ID.');
      if (id === client.me) throw new Error('That is your own ID.');
      try {
        return await client.createDirect(id);
      } catch (e) {
        throw explain(e);
      }
    },
  });
}

/** Creates a group from a name and member IDs. */
export function newGroupDialog(client) {
  const name = field('new-group-name', 'Group name', { required: true, maxlength: '100' });
  const out = h('p', { class: 'lookup', 'aria-live': 'polite' });
  const members = field('new-group-members', 'Members’ user IDs', {
    multiline: true, rows: '3', spellcheck: 'false', placeholder: 'One ID per line, or separated by commas',
  }, out);
  lookup(client, members.querySelector('textarea'), out);
  return modal({
    title: 'New group',
    description: 'You will be the group’s admin. You can add and remove members later.',
    fields: [name, members],
    submitLabel: 'Create group',
    onSubmit: async () => {
      const n = name.querySelector('input').value.trim();
      if (!n) throw new Error('Give the group a name.');
      const list = ids(members.querySelector('textarea').value).filter((id) => id !== client.me);
      try {
        return await client.createGroup(n, list);
      } catch (e) {
        if (e.code !== 'invalid') throw explain(e);
        // Which of the IDs is wrong, asked one by one: the server's
        // message is for developers (and an older one names only the first).
        const bad = await unknownIds(client, list);
        throw new Error(bad.length ? unknownText(bad, list.length) : e.message || 'The group could not be created.');
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
          h('span', { class: 'member-name' }, name, p.user_id === client.me ? ' (you)' : ''),
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
  const addInput = h('input', { id: 'add-member-id', spellcheck: 'false', autocomplete: 'off' });
  lookup(client, addInput, out);
  const addButton = h('button', { type: 'button', class: 'primary small' }, 'Add');
  const add = async () => {
    const id = addInput.value.trim();
    if (!id) return;
    addButton.disabled = true;
    error.textContent = '';
    try {
      await client.addMember(convId, id);
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
    h('label', { for: 'add-member-id' }, 'Add a member by user ID'),
    h('div', { class: 'inline' }, addInput, addButton),
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
 * from GET /messages/{id}/status. Escape or a click elsewhere closes it.
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
}

/** Puts a popover above its anchor, or below when there is no room above. */
function place(pop, anchor) {
  const r = anchor.getBoundingClientRect();
  const hgt = pop.offsetHeight;
  const top = r.top - hgt - 6 >= 8 ? r.top - hgt - 6 : Math.min(r.bottom + 6, window.innerHeight - hgt - 8);
  pop.style.top = `${Math.max(8, top)}px`;
  pop.style.left = `${Math.max(8, Math.min(window.innerWidth - pop.offsetWidth - 8, r.right - pop.offsetWidth))}px`;
}
