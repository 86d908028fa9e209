// What one can do to a message after it is sent, in the open chat:
// react (a picker of six emoji, and the chips under a bubble), edit one's
// own text message in the composer, delete for everyone or for oneself.
// Every change shows when the server tells it back (client.onUpdate), on
// this device as on the others: nothing here changes a message itself.

import { $, h, toast, announce } from '../dom.js';
import { place } from './dialogs.js';
import { icon } from '../icons.js';
import { reactionOf } from '../chatlog.js';
import { EDIT_WINDOW_MS, DELETE_WINDOW_MS } from '/sdk/index.js';

/** The picker's emoji, as WhatsApp offers them. */
export const EMOJI = Object.freeze(['👍', '❤️', '😂', '😮', '😢', '🙏']);

/** Whether this user may edit m now: its own stored text message, within the window. */
export function canEdit(client, m) {
  return !!m.message_id && !m.deleted && m.sender_id === client.me && m.message_type === 'text'
    && Date.now() - (m.created_at || 0) < EDIT_WINDOW_MS;
}

/** Whether this user may delete m for everyone: its own within 48 h, or any as a group's admin. */
export function canDeleteForEveryone(client, m, conv) {
  if (!m.message_id || m.deleted || m.message_type === 'system') return false;
  if (conv && conv.type === 'group' && client.isAdmin(conv)) return true;
  return m.sender_id === client.me && Date.now() - (m.created_at || 0) < DELETE_WINDOW_MS;
}

/** What a tombstone says in place of its content. */
export function tombstoneText(client, m) {
  return m.sender_id === client.me ? 'You deleted this message' : 'This message was deleted';
}

/** A stable summary of m's reactions, for the bubble's signature. */
export function reactionSig(m) {
  return (m.reactions || []).map((r) => `${r.emoji}:${r.user_ids.join(',')}`).join(';');
}

/** Sets this user's reaction to m, or removes it when it is the one already chosen. */
async function toggle(client, m, emoji) {
  const next = reactionOf(m, client.me) === emoji ? '' : emoji;
  try {
    await client.react(m, next);
  } catch (e) {
    toast(e.message ? `Could not react: ${e.message}` : 'Could not react. Try again.');
  }
}

/** The chips under a bubble: emoji and count, this user's own pressed. Null when none. */
export function reactionChips(client, m) {
  const rs = m.reactions || [];
  if (!rs.length || m.deleted) return null;
  return h('div', { class: 'reactions', 'data-testid': 'reactions' }, rs.map((r) => {
    const mine = r.user_ids.includes(client.me);
    const names = r.user_ids.map((u) => client.name(u)).join(', ');
    return h('button', {
      type: 'button',
      class: `reaction-chip${mine ? ' mine' : ''}`,
      'data-testid': 'reaction-chip',
      'aria-pressed': String(mine),
      'aria-label': `${r.emoji} ${r.user_ids.length}: ${names}${mine ? '. Remove your reaction' : ''}`,
      title: names,
      disabled: !m.message_id,
      onclick: () => toggle(client, m, r.emoji),
    }, h('span', { 'aria-hidden': 'true' }, r.emoji), h('span', { class: 'reaction-count', 'aria-hidden': 'true' }, String(r.user_ids.length)));
  }));
}

/** A popover near anchor; closed (and removed) by Escape, a click outside, or a choice. */
function popover(anchor, label, cls, children) {
  document.querySelectorAll('.msg-popover[popover]').forEach((p) => p.remove());
  const pop = h('div', { popover: 'auto', class: `msg-popover ${cls}`, role: 'group', 'aria-label': label, tabindex: '-1' }, children);
  document.body.append(pop);
  pop.addEventListener('toggle', (e) => {
    if (e.newState !== 'closed') return;
    pop.remove();
    if (anchor.isConnected && pop.contains(document.activeElement)) anchor.focus();
  });
  pop.showPopover();
  place(pop, anchor);
  const first = pop.querySelector('button');
  if (first) first.focus();
  return pop;
}

/** The emoji picker for m: the chosen one is pressed, and choosing it again removes it. */
export function reactionPicker(client, m, anchor) {
  const chosen = reactionOf(m, client.me);
  const pop = popover(anchor, 'React', 'emoji-picker', EMOJI.map((e) => h('button', {
    type: 'button',
    class: `emoji-btn${e === chosen ? ' chosen' : ''}`,
    'aria-pressed': String(e === chosen),
    'aria-label': e === chosen ? `Remove ${e}` : `React with ${e}`,
    onclick: () => {
      pop.hidePopover();
      toggle(client, m, e);
    },
  }, e)));
}

/** The message's menu: Edit (own recent text) and Delete. */
export function messageMenu(view, m, anchor) {
  const client = view.client;
  const items = [];
  if (canEdit(client, m)) {
    items.push(h('button', { type: 'button', class: 'menu-item', onclick: () => { pop.hidePopover(); view.startEdit(m); } }, 'Edit'));
  }
  items.push(h('button', { type: 'button', class: 'menu-item', onclick: () => { pop.hidePopover(); deleteDialog(view, m, anchor); } }, 'Delete'));
  const pop = popover(anchor, 'Message actions', 'msg-menu', items);
}

/** The buttons beside a bubble, in the style of Reply: React, and More (Edit, Delete). */
export function actionButtons(view, m) {
  const react = h('button', {
    type: 'button',
    class: 'reply-btn react-btn',
    'aria-label': 'React',
    'aria-haspopup': 'true',
    title: 'React',
    hidden: !m.message_id || m.deleted,
    onclick: (e) => reactionPicker(view.client, m, e.currentTarget),
  }, icon('mood'));
  const more = h('button', {
    type: 'button',
    class: 'reply-btn more-btn',
    'aria-label': 'More actions',
    'aria-haspopup': 'true',
    title: 'More',
    hidden: !m.message_id,
    onclick: (e) => messageMenu(view, m, e.currentTarget),
  }, icon('more'));
  return [react, more];
}

/** Asks how to delete m: for everyone (when allowed) or for me; the focus goes back to opener. */
export function deleteDialog(view, m, opener = document.activeElement) {
  const client = view.client;
  const conv = client.conversation(view.id);
  const everyone = canDeleteForEveryone(client, m, conv);
  const go = (forWhom) => async () => {
    dlg.close();
    try {
      await client.deleteMessage(m, forWhom);
      announce('Message deleted.');
    } catch (e) {
      toast(e.message ? `Could not delete: ${e.message}` : 'Could not delete. Try again.');
    }
  };
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'delete-title', 'data-testid': 'delete-dialog' },
    h('div', { class: 'dialog-form' },
      h('h2', { id: 'delete-title', class: 'dialog-title' }, 'Delete message?'),
      h('div', { class: 'dialog-actions delete-actions' },
        everyone ? h('button', { type: 'button', class: 'danger', onclick: go('everyone') }, 'Delete for everyone') : null,
        h('button', { type: 'button', class: 'secondary', onclick: go('me') }, 'Delete for me'),
        h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel'))));
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  dlg.querySelector('button').focus();
}

/**
 * The composer's edit mode: a bar above it with the text being edited;
 * Enter saves (ChatView.send calls save), Escape or Cancel leaves it.
 */
export class EditMode {
  constructor(view) {
    this.view = view;
    this.m = null;
    this.bar = h('div', { id: 'edit-bar', class: 'reply-bar', role: 'group', 'aria-labelledby': 'edit-bar-label', 'data-testid': 'edit-preview', hidden: true },
      h('div', { class: 'reply-bar-quote quote-box' },
        h('span', { id: 'edit-bar-label', class: 'quote-name' }, 'Edit message'),
        h('span', { class: 'quote-text' })),
      h('button', { type: 'button', class: 'icon-btn small', 'aria-label': 'Cancel editing', title: 'Cancel', onclick: () => this.cancel() }, icon('close')));
    $('#composer').before(this.bar);
    $('#composer').addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.m) {
        e.preventDefault();
        this.cancel();
      }
    });
  }

  get active() { return !!this.m; }

  start(m) {
    const input = this.view.input;
    this.m = m;
    this.saved = input.value;
    this.bar.querySelector('.quote-text').textContent = m.content.split('\n')[0];
    this.bar.hidden = false;
    input.value = m.content;
    this.view.autosize();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    announce('Editing the message. Enter saves, Escape cancels.');
  }

  /** Leaves edit mode; the composer gets back what was being written before. */
  cancel({ focus = true, restore = true } = {}) {
    if (!this.m) return;
    this.m = null;
    this.bar.hidden = true;
    if (restore) {
      this.view.input.value = this.saved || '';
      this.view.autosize();
    }
    if (focus) this.view.input.focus();
  }

  /** Saves the composer's text as the message's new content. */
  async save(text) {
    const m = this.m;
    if (!m) return;
    this.cancel({ focus: true });
    if (text === m.content) return;
    try {
      await this.view.client.editMessage(m, text);
    } catch (e) {
      toast(e.code === 'forbidden' ? 'This message can no longer be edited.' : `Could not edit: ${e.message || 'try again'}`);
    }
  }
}
