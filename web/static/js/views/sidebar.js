// The left column: who I am (and my ID to share), the connection state, and
// the conversation list with unread counts and last messages.

import { $, h, fill, avatar, toast, botBadge } from '../dom.js';
import { hue, initials, shortTime, preview } from '../format.js';
import { newChatDialog, newGroupDialog } from './dialogs.js';
import { devicesDialog } from './devices.js';
import { contactsDialog } from './contacts.js';
import { profileDialog } from './profile.js';
import { tickMark } from './ticks.js';
import { icon, mediaIcon } from '../icons.js';

export class Sidebar {
  constructor(client, nav) {
    this.client = client;
    this.nav = nav;
    this.list = $('#conv-list');
    const on = (type, f) => client.addEventListener(type, f);
    const render = () => this.schedule();
    on('conversations', render);
    on('users', () => { render(); this.renderMe(); });
    on('typing', render);
    on('ticks', render);
    on('presence', render);
    on('connection', () => this.renderConnection());

    $('#new-chat').addEventListener('click', () => this.newChat());
    $('#new-group').addEventListener('click', () => this.newGroup());
    $('#sign-out').addEventListener('click', () => nav.signOut());
    $('#devices').addEventListener('click', () => devicesDialog(client));
    $('#contacts').addEventListener('click', () => contactsDialog(client));
    $('#profile').addEventListener('click', () => profileDialog(client));
    $('#copy-id').addEventListener('click', () => this.copyId());
    $('#discoverable').addEventListener('change', (e) => this.setDiscoverable(e.target));
    this.loadSettings();
    this.list.addEventListener('keydown', (e) => this.onKey(e));
    this.renderMe();
    this.renderConnection();
    this.render();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  renderMe() {
    const c = this.client;
    const u = c.user(c.me);
    const name = u ? u.display_name || u.username : c.session.username || '';
    $('#me-name').textContent = name;
    document.querySelector('.me-sub').textContent = u ? `@${u.username}` : '';
    $('#me-id').textContent = c.me;
    fill($('#me-avatar'), avatar(c.me, name, hue, initials, '', c.avatarUrl(c.me)));
  }

  /** The banner over the list while the socket is down (called often: it acts on changes only). */
  renderConnection() {
    const banner = $('#conn-banner');
    const state = this.client.connection;
    if (state === 'open') {
      clearTimeout(this.showTimer);
      this.showTimer = 0;
      // "Connected" only ends an outage the user was shown.
      if (!banner.hidden && banner.dataset.state !== 'open') {
        banner.dataset.state = 'open';
        banner.textContent = 'Connected';
        this.hideTimer = setTimeout(() => { banner.hidden = true; }, 1500);
      }
      return;
    }
    clearTimeout(this.hideTimer);
    const show = () => {
      const waiting = this.client.waiting;
      const queued = waiting ? ` ${waiting} message${waiting === 1 ? '' : 's'} will be sent when it is back.` : '';
      banner.hidden = false;
      banner.dataset.state = this.client.connection;
      banner.textContent = this.client.connection === 'connecting' ? `Connecting…${queued}` : `Offline: reconnecting.${queued}`;
    };
    // A connection made within a moment (every page load) shows nothing;
    // a message waiting in the outbox is worth saying at once.
    if (!banner.hidden || this.client.waiting) show();
    else if (!this.showTimer) {
      this.showTimer = setTimeout(() => {
        this.showTimer = 0;
        if (this.client.connection !== 'open') show();
      }, 800);
    }
  }

  render() {
    const c = this.client;
    const convs = c.ordered();
    $('#conv-empty').hidden = convs.length > 0;
    const focusedId = document.activeElement && document.activeElement.closest('#conv-list')
      ? document.activeElement.closest('[data-id]')?.dataset.id : null;
    fill(this.list, convs.map((conv) => this.item(conv)));
    // Busy while the list is being fetched again (after a reconnect, say).
    if (c.listing) this.list.setAttribute('aria-busy', 'true');
    else this.list.removeAttribute('aria-busy');
    if (focusedId) this.list.querySelector(`[data-id="${CSS.escape(focusedId)}"] a`)?.focus();
    this.renderConnection();
  }

  item(conv) {
    const c = this.client;
    const title = c.title(conv);
    const active = conv.conversation_id === c.active;
    const typists = c.typists(conv.conversation_id);
    const last = conv.last_message;
    let line;
    if (typists.length) {
      line = h('span', { class: 'typing-text' }, conv.type === 'group' ? `${c.name(typists[0])} is typing…` : 'typing…');
    } else if (last) {
      const mine = last.sender_id === c.me && last.message_type !== 'system';
      const who = conv.type === 'group' && !mine && last.message_type !== 'system' ? `${c.name(last.sender_id)}: ` : '';
      line = [
        mine ? tickMark(this.lastStatus(conv), true) : null,
        mediaIcon(last.message_type) ? icon(mediaIcon(last.message_type), 'preview-icon') : null,
        h('span', { class: 'preview-text' }, who + preview(last, (id) => c.name(id))),
      ];
    } else {
      line = h('span', { class: 'preview-text muted' }, conv.type === 'group' ? 'New group' : 'No messages yet');
    }
    const unread = conv.unread_count || 0;
    const mentioned = unread > 0 && (conv.unread_mentions || 0) > 0;
    const peer = c.peer(conv);
    const online = peer && c.presence.get(peer)?.status === 'online';
    return h('li', { class: `conv${active ? ' active' : ''}${unread ? ' unread' : ''}`, 'data-id': conv.conversation_id },
      h('a', {
        href: `/c/${encodeURIComponent(conv.conversation_id)}`,
        'aria-current': active ? 'page' : null,
        onclick: (e) => {
          if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          this.nav.navigate(conv.conversation_id);
        },
      },
      h('span', { class: 'avatar-wrap' },
        avatar(conv.type === 'group' ? conv.conversation_id : peer, title, hue, initials, conv.type === 'group' ? 'group' : '',
          c.avatarUrl(conv.type === 'group' ? conv.conversation_id : peer)),
        online ? h('span', { class: 'online-dot', title: 'online', 'aria-hidden': 'true' }) : null),
      h('span', { class: 'conv-main' },
        h('span', { class: 'conv-top' },
          // The link's name is its text (an aria-label would hide the
          // preview from screen readers); the dot and the badge are said here.
          h('span', { class: 'conv-title' }, title, botBadge(conv.type === '1:1' && c.isBot(peer)),
            online || unread ? h('span', { class: 'visually-hidden' }, `${online ? ', online' : ''}${unread ? `, ${unread} unread` : ''}${mentioned ? ', you are mentioned' : ''}`) : null),
          h('span', { class: 'conv-time' }, shortTime(last ? last.created_at : conv.last_activity_at))),
        h('span', { class: 'conv-bottom' },
          h('span', { class: 'conv-preview' }, line),
          mentioned ? h('span', { class: 'badge mention', 'aria-hidden': 'true', 'data-testid': 'mentioned' }, '@') : null,
          unread ? h('span', { class: 'badge', 'aria-hidden': 'true', 'data-testid': 'unread' }, unread > 99 ? '99+' : String(unread)) : null))));
  }

  /**
   * Moves the focus into the list: to conversation id's link, else the
   * open one's or the first, else to "New chat" while the list is empty.
   */
  focusList(id) {
    if (this.frame) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
    }
    this.render();
    const at = (cid) => cid && this.list.querySelector(`[data-id="${CSS.escape(cid)}"] a`);
    (at(id) || at(this.client.active) || this.list.querySelector('a') || $('#new-chat')).focus();
  }

  /** The tick of the conversation's last message when it is mine. */
  lastStatus(conv) {
    const c = this.client;
    const last = conv.last_message;
    const chat = c.chats.get(conv.conversation_id);
    const m = chat && ((last.message_id && chat.byId.get(last.message_id)) || (last.client_message_id && chat.byCmid.get(last.client_message_id)));
    if (m) return c.statusOf(m);
    return last.sequence_number == null ? 'pending' : null; // not loaded: unknown, so no tick
  }

  onKey(e) {
    // Up and down move between conversations, like a list box.
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const links = [...this.list.querySelectorAll('a')];
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    links[Math.max(0, Math.min(links.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
  }

  async copyId() {
    try {
      await navigator.clipboard.writeText(this.client.me);
      toast('Your ID is copied. Send it to a friend so they can start a chat with you.');
    } catch {
      const sel = getSelection();
      const range = document.createRange();
      range.selectNodeContents($('#me-id'));
      sel.removeAllRanges();
      sel.addRange(range);
      toast('Your ID is selected: copy it with Ctrl+C.');
    }
  }

  /** Shows who can find this user by username (its settings). */
  async loadSettings() {
    const select = $('#discoverable');
    try {
      select.value = (await this.client.parley.settings()).discoverable || 'everyone';
      select.disabled = false;
    } catch {
      // Left disabled: the choice cannot be shown truthfully.
    }
  }

  async setDiscoverable(select) {
    const want = select.value;
    select.disabled = true;
    try {
      const s = await this.client.parley.updateSettings({ discoverable: want });
      select.value = s.discoverable;
      toast(s.discoverable === 'nobody'
        ? 'No one can find you by username now: share your ID to start a chat.'
        : 'Everyone can find you by your username now.');
    } catch (e) {
      select.value = want === 'nobody' ? 'everyone' : 'nobody';
      toast(`Could not change who can find you: ${e.message || 'try again'}`);
    } finally {
      select.disabled = false;
    }
  }

  async newChat() {
    const id = await newChatDialog(this.client);
    if (id) this.nav.navigate(id);
  }

  async newGroup() {
    const id = await newGroupDialog(this.client);
    if (id) this.nav.navigate(id);
  }
}
