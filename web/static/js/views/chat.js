// The open conversation: header (presence, typing, members), the message
// history with paging and ticks, and the composer (text, attachments,
// voice notes).

import { $, h, fill, avatar, toast, announce, botBadge } from '../dom.js';
import { hue, initials, clockTime, fullTime, lastSeen, dayLabel, sameDay, systemText, utf8Length, count } from '../format.js';
import { tickMark } from './ticks.js';
import { membersDialog, receiptPopover, forwardDialog } from './dialogs.js';
import { groupInfoDialog } from './groupinfo.js';
import { contactInfoDialog } from './contactinfo.js';
import { attachment, updateProgress, kindOf, Recorder } from './media.js';
import { icon } from '../icons.js';
import { quoteOf, FORWARDED_MANY_TIMES } from '../chatlog.js';
import { actionButtons, reactionChips, reactionSig, tombstoneText, EditMode } from './lifecycle.js';

const PAUSE_AFTER_MS = 3000;
// Why an attachment kind is not offered: the server says it cannot process it.
const CANNOT = {
  audio: 'Voice messages are not available: this server cannot process audio (it has no ffmpeg).',
  video: 'Videos cannot be sent: this server cannot process video (it has no ffmpeg).',
};
const NEAR_BOTTOM_PX = 120;
const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

export class ChatView {
  constructor(client, nav) {
    this.client = client;
    this.nav = nav;
    this.id = null;
    this.nodes = new Map(); // key → {li, sig, status}
    this.pane = $('#chat-pane');
    this.list = $('#messages');
    this.scroller = $('#messages-scroll');
    this.input = $('#composer-input');
    this.pauseTimer = 0;
    this.recorder = null;

    client.addEventListener('messages', (e) => { if (e.detail.conversation_id === this.id) this.renderMessages(e.detail); });
    client.addEventListener('ticks', (e) => { if (e.detail.conversation_id === this.id) this.renderTicks(); });
    client.addEventListener('progress', (e) => this.onProgress(e.detail.message));
    client.addEventListener('typing', (e) => { if (e.detail.conversation_id === this.id) this.renderHeader(); });
    client.addEventListener('presence', () => this.renderHeader());
    client.addEventListener('connection', () => this.renderHeader());
    client.addEventListener('users', () => { this.renderHeader(); this.renderMessages({}); });
    client.addEventListener('conversations', () => this.onConversations());
    client.addEventListener('server', () => this.applyServer());

    $('#composer').addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    // Replying: the preview above the composer; Escape or its button cancels.
    this.replyTo = null;
    $('#reply-cancel').addEventListener('click', () => this.cancelReply());
    for (const el of [$('#composer'), $('#reply-bar')]) {
      el.addEventListener('keydown', (e) => {
        if (e.key === 'Escape' && this.replyTo && !this.recorder) {
          e.preventDefault();
          this.cancelReply();
        }
      });
    }
    this.edit = new EditMode(this);
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.input.addEventListener('input', () => this.onInput());
    this.input.addEventListener('blur', () => { if (this.id) client.setComposing(this.id, false); });
    this.input.addEventListener('paste', (e) => this.onPaste(e));
    $('#attach').addEventListener('click', () => $('#attach-input').click());
    $('#attach-input').addEventListener('change', (e) => this.onFiles(e.target));
    $('#record').addEventListener('click', () => this.toggleRecording());
    $('#load-older').addEventListener('click', () => this.loadOlder());
    $('#chat-members').addEventListener('click', () => membersDialog(client, this.id));
    $('#chat-group-info').addEventListener('click', () => groupInfoDialog(client, this.id));
    $('#chat-info').addEventListener('click', () => {
      const peer = client.peer(client.conversation(this.id));
      if (peer) contactInfoDialog(client, peer, this.id);
    });
    $('#blocked-unblock').addEventListener('click', async (e) => {
      const peer = client.peer(client.conversation(this.id));
      if (!peer) return;
      e.currentTarget.disabled = true;
      try {
        await client.unblock(peer);
        this.input.focus();
      } catch (ex) {
        toast(ex.message || 'Could not unblock. Try again.');
      } finally {
        $('#blocked-unblock').disabled = false;
      }
    });
    client.addEventListener('blocks', () => this.renderHeader());
    $('#chat-back').addEventListener('click', () => nav.navigate(null));
    // Stuck to the bottom while the user is there: media that load and
    // grow their bubbles keep the newest message in view.
    this.stick = true;
    this.scroller.addEventListener('scroll', () => {
      this.stick = this.nearBottom();
      if (this.scroller.scrollTop < 40) this.loadOlder();
    }, { passive: true });
    new ResizeObserver(() => { if (this.stick) this.scrollToBottom(); }).observe(this.list);
    if (!Recorder.supported()) $('#record').hidden = true;
    this.note = $('#composer-note');
    this.over = false;
    this.applyServer();
    this.ticker = setInterval(() => this.renderHeader(), 30_000); // "last seen just now" ages
  }

  // ---- opening ----

  async open(id) {
    if (id === this.id) return;
    if (this.recorder) this.stopRecording(true);
    const left = this.id;
    const focusWasHere = this.pane.contains(document.activeElement);
    this.id = id;
    this.nodes.clear();
    this.list.replaceChildren();
    this.stick = true;
    $('#app-view').classList.toggle('chat-open', !!id);
    $('#chat-empty').hidden = !!id;
    this.pane.hidden = !id;
    $('.skip-link[data-skip="composer"]').hidden = !id;
    this.input.value = '';
    this.autosize();
    this.checkLength();
    this.cancelReply({ focus: false });
    this.edit.cancel({ focus: false, restore: false });
    if (!id) {
      // Back (or removed from the group): the focus, in the pane now
      // hidden, goes to the chat just left in the list.
      if (focusWasHere) this.nav.focusList(left);
      await this.client.open(null);
      document.title = 'Parley';
      this.client.emit('conversations');
      return;
    }
    this.renderHeader();
    this.renderMessages({});
    this.client.emit('conversations'); // highlight it in the list
    this.input.focus();
    try {
      await this.client.open(id);
    } catch (e) {
      if (this.id !== id) return;
      toast(e.status === 403 || e.status === 404 ? 'That chat is not available to you.' : `Could not open the chat: ${e.message}`);
      if (e.status === 403 || e.status === 404) this.nav.navigate(null, { replace: true });
      return;
    }
    if (this.id !== id) return;
    this.renderHeader();
    this.renderMessages({});
    this.scrollToBottom();
  }

  onConversations() {
    if (!this.id) return;
    if (!this.client.conversation(this.id) && !this.client.chats.has(this.id)) {
      // Removed from the group, or left it.
      this.nav.navigate(null, { replace: true });
      return;
    }
    this.renderHeader();
  }

  // ---- header ----

  renderHeader() {
    const c = this.client;
    const conv = this.id && c.conversation(this.id);
    if (!conv) return;
    const title = c.title(conv);
    document.title = `${title} — Parley`;
    const peer = c.peer(conv);
    fill($('#chat-title'), title, botBadge(conv.type === '1:1' && c.isBot(peer)));
    const who = conv.type === 'group' ? conv.conversation_id : peer;
    fill($('#chat-avatar'), avatar(who, title, hue, initials, conv.type === 'group' ? 'group' : '', c.avatarUrl(who)));
    $('#chat-members').hidden = conv.type !== 'group';
    $('#chat-group-info').hidden = conv.type !== 'group';
    // A group where only admins send: a member's box says so instead of
    // taking a message the server would refuse.
    const locked = conv.type === 'group' && !!conv.only_admins_send && !c.isAdmin(conv);
    this.input.disabled = locked;
    this.input.placeholder = locked ? 'Only admins can send messages' : 'Type a message';
    $('#send').disabled = locked;
    $('#chat-info').hidden = conv.type !== '1:1';
    this.renderPins(conv);
    // A chat with someone this user blocks takes no messages: the bar
    // says why and offers the unblock (as WhatsApp does).
    const blocked = !!peer && c.isBlocked(peer);
    if ($('#composer').hidden !== blocked) {
      $('#composer').hidden = blocked;
      $('#blocked-bar').hidden = !blocked;
      if (blocked) this.cancelReply({ focus: false });
      $('#blocked-text').textContent = `You blocked ${title}.`;
    }
    const sub = $('#chat-subtitle');
    const typists = c.typists(conv.conversation_id);
    let text;
    let cls = '';
    if (typists.length) {
      cls = 'typing-text';
      text = conv.type === 'group'
        ? `${typists.map((u) => c.name(u)).join(', ')} ${typists.length > 1 ? 'are' : 'is'} typing…`
        : 'typing…';
    } else if (peer && c.connection !== 'open') {
      text = 'connecting…';
    } else if (blocked) {
      text = '';
    } else if (peer) {
      const p = c.presence.get(peer);
      text = !p ? '' : p.status === 'online' ? 'online' : lastSeen(p.last_seen);
      if (p && p.status === 'online') cls = 'online-text';
    } else {
      const names = conv.participants.map((p) => p.user_id)
        .sort((a, b) => (a === c.me) - (b === c.me))
        .map((u) => c.name(u));
      text = names.join(', ');
    }
    sub.textContent = text;
    sub.className = `chat-subtitle ${cls}`;
  }

  // ---- messages ----

  renderMessages({ older }) {
    if (!this.id) return;
    const c = this.client;
    const chat = c.chats.get(this.id);
    const conv = c.conversation(this.id);
    const msgs = chat ? chat.list : [];
    const nearBottom = this.stick || this.nearBottom();
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    const lastKey = this.lastKey;

    const want = [];
    let prev = null;
    for (const m of msgs) {
      const at = m.created_at || Date.now();
      if (!prev || !sameDay(prev, at)) want.push(this.dayNode(at));
      prev = at;
      want.push(this.messageNode(m, conv));
    }
    const keep = new Set(want);
    for (const [key, n] of this.nodes) {
      if (!keep.has(n.li)) {
        n.li.remove();
        this.nodes.delete(key);
      }
    }
    // Put nodes in order, moving only those out of place (so media and
    // focus inside untouched bubbles survive).
    let cursor = this.list.firstChild;
    for (const li of want) {
      if (li === cursor) {
        cursor = cursor.nextSibling;
        continue;
      }
      this.list.insertBefore(li, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
    $('#load-older').hidden = !(chat && chat.hasMore);

    const last = msgs[msgs.length - 1];
    this.lastKey = last ? last.key : null;
    if (older) {
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    } else if (last && last.key !== lastKey && (nearBottom || last.sender_id === c.me)) {
      this.scrollToBottom();
    }
  }

  dayNode(at) {
    const key = `day:${new Date(at).toDateString()}`;
    let n = this.nodes.get(key);
    if (!n) {
      // A plain item: a role on it would leave the <ol> holding a non-item.
      n = { li: h('li', { class: 'day' }, h('span', null, dayLabel(at))) };
      this.nodes.set(key, n);
    }
    return n.li;
  }

  messageNode(m, conv) {
    const c = this.client;
    const group = conv && conv.type === 'group';
    const quote = this.quoteFor(m);
    const sig = [m.message_type, m.content, m.failed || '', m.sender_id, group ? c.name(m.sender_id) : '', m.upload ? 'local' : m.media_id || '',
      m.reply_to || '', quote ? `${c.name(quote.sender_id)}\u0001${quote.message_type}\u0001${quote.content}` : '',
      m.forwarded || 0, m.expires_at ? 'x' : '', m.edited_at || '', m.deleted ? 'deleted' : '', reactionSig(m)].join('\u0000');
    let n = this.nodes.get(m.key);
    if (!n || n.sig !== sig) {
      const li = m.message_type === 'system' ? this.systemBubble(m) : this.bubble(m, group);
      if (n) {
        // A bubble redrawn (reacted to, edited) keeps the keyboard focus on the same button.
        const was = n.li.contains(document.activeElement) ? document.activeElement.className : '';
        n.li.replaceWith(li);
        if (was) li.querySelector(`[class="${CSS.escape(was)}"]`)?.focus({ preventScroll: true });
      }
      n = { li, sig, status: undefined };
      this.nodes.set(m.key, n);
    }
    n.li.dataset.id = m.message_id || '';
    n.li.dataset.seq = m.sequence_number ?? '';
    this.updateTicks(n, m);
    // Only a stored message can be replied to, or pinned.
    // (Not the first .reply-btn: on one's own messages that was the Pin button.)
    const reply = n.li.querySelector('.msg-reply');
    if (reply) reply.hidden = !m.message_id || !!m.deleted;
    for (const b of n.li.querySelectorAll('.react-btn, .more-btn')) b.hidden = !m.message_id || (!!m.deleted && b.classList.contains('react-btn'));
    const fwd = n.li.querySelector('.forward-btn');
    if (fwd) fwd.hidden = !m.message_id || !!m.deleted;
    const pin = n.li.querySelector('.pin-btn');
    if (pin) {
      const conv = this.client.conversation(this.id);
      const pinned = !!conv && (conv.pinned || []).includes(m.message_id);
      pin.hidden = !m.message_id || !conv || (conv.type === 'group' && !this.client.isAdmin(conv));
      pin.setAttribute('aria-label', pinned ? 'Unpin message' : 'Pin message');
      pin.title = pinned ? 'Unpin' : 'Pin';
      pin.setAttribute('aria-pressed', String(pinned));
    }
    if (m.upload && (m.upload.done || m.failed)) n.li.querySelector('.upload')?.remove();
    return n.li;
  }

  systemBubble(m) {
    return h('li', { class: 'msg system', 'data-testid': 'system-message' },
      h('span', { class: 'system-text' }, systemText(m.content, (id) => this.client.name(id))));
  }

  bubble(m, group) {
    const c = this.client;
    const mine = m.sender_id === c.me;
    const name = c.name(m.sender_id, { you: false });
    const media = !m.deleted && (m.message_type === 'image' || m.message_type === 'video' || m.message_type === 'audio');
    const body = [];
    body.push(h('span', { class: 'visually-hidden' }, mine ? 'You: ' : `${name}: `));
    // 30% lightness: 4.5:1 on the white bubble whatever the hue.
    if (group && !mine) body.push(h('div', { class: 'sender', style: { color: `hsl(${hue(m.sender_id)} 55% 30%)` }, 'aria-hidden': 'true' }, name));
    if (m.deleted) {
      body.push(h('div', { class: 'text deleted-text', 'data-testid': 'tombstone' }, tombstoneText(c, m)));
    } else {
      if (m.forwarded) {
        const many = m.forwarded >= FORWARDED_MANY_TIMES;
        body.push(h('div', { class: 'forwarded', 'data-testid': 'forwarded' }, icon('forward'), many ? 'Forwarded many times' : 'Forwarded'));
      }
      if (m.reply_to) body.push(this.quoteNode(m.reply_to, this.quoteFor(m)));
      if (media) body.push(attachment(c, m));
      if (m.content && m.message_type !== 'location') body.push(h('div', { class: 'text' }, linkify(m.content)));
      else if (!media) body.push(h('div', { class: 'text muted' }, `[${m.message_type}]`));
    }
    const meta = h('div', { class: 'meta' },
      m.expires_at ? h('span', { class: 'disappearing', title: `Disappears ${fullTime(m.expires_at)}` },
        icon('timer'), h('span', { class: 'visually-hidden' }, 'Disappearing message. ')) : null,
      m.edited_at && !m.deleted ? h('span', { class: 'edited', title: `Edited ${fullTime(m.edited_at)}` }, 'edited') : null,
      h('time', { datetime: new Date(m.created_at || Date.now()).toISOString(), title: fullTime(m.created_at) }, clockTime(m.created_at)),
      h('span', { class: 'tick-slot' }));
    body.push(meta);
    body.push(reactionChips(c, m));
    if (m.failed) {
      body.push(h('div', { class: 'failed' },
        h('span', { role: 'alert' }, m.failed), ' ',
        h('button', { type: 'button', class: 'link', onclick: () => c.discard(m) }, 'Dismiss')));
    }
    const bubble = h('div', { class: 'bubble' }, body);
    const reply = h('button', {
      type: 'button',
      class: 'reply-btn msg-reply',
      'aria-label': mine ? 'Reply to your message' : `Reply to ${name}`,
      title: 'Reply',
      hidden: !m.message_id || m.deleted,
      onclick: () => this.startReply(m),
    }, icon('reply'));
    const [react, more] = actionButtons(this, m);
    const pin = h('button', {
      type: 'button',
      class: 'reply-btn pin-btn',
      'aria-label': 'Pin message',
      title: 'Pin',
      hidden: true,
      onclick: () => this.togglePin(m),
    }, icon('pin'));
    const forward = h('button', {
      type: 'button',
      class: 'reply-btn forward-btn',
      'aria-label': 'Forward message',
      title: 'Forward',
      hidden: !m.message_id,
      'data-testid': 'forward',
      onclick: () => this.forward(m),
    }, icon('forward'));
    return h('li', {
      class: `msg ${mine ? 'mine' : 'theirs'}${media ? ' has-media' : ''}`,
      'data-testid': 'message',
    }, mine ? [more, pin, forward, react, reply, bubble] : [bubble, reply, react, forward, pin, more]);
  }

  /** A reply's quote: the server's, else (pending, or none came) the loaded original's. */
  quoteFor(m) {
    if (!m.reply_to) return null;
    return m.quote || quoteOf(this.client.chats.get(m.conversation_id || this.id), m.reply_to);
  }

  /** The quote above a reply's text: a button that shows the original. */
  quoteNode(id, q) {
    const c = this.client;
    const name = q ? c.name(q.sender_id) : '';
    return h('button', {
      type: 'button',
      class: 'quote quote-box',
      style: q ? { borderLeftColor: `hsl(${hue(q.sender_id)} 55% 40%)` } : null,
      title: 'Show the original message',
      'data-testid': 'quote',
      onclick: () => this.jumpTo(id),
    },
    h('span', { class: 'visually-hidden' }, 'Reply to: '),
    q ? h('span', { class: 'quote-name', style: { color: `hsl(${hue(q.sender_id)} 55% 25%)` } }, name) : null,
    q ? h('span', { class: 'visually-hidden' }, ': ') : null,
    h('span', { class: 'quote-text' }, q ? quoteText(q) : 'A message not loaded'));
  }

  /**
   * Forwards m to the chats the user picks: one only for a message
   * forwarded many times.
   */
  async forward(m) {
    if (!m.message_id) return;
    const many = (m.forwarded || 0) >= FORWARDED_MANY_TIMES;
    const ids = await forwardDialog(this.client, m, many);
    if (!ids) return;
    for (const id of ids) this.client.forward(m, id);
    announce(ids.length === 1 ? 'Message forwarded.' : `Message forwarded to ${ids.length} chats.`);
  }

  /** Pins m, or unpins it when it is pinned (the server says who may). */
  async togglePin(m) {
    const c = this.client;
    const conv = c.conversation(this.id);
    if (!conv || !m.message_id) return;
    const pinned = (conv.pinned || []).includes(m.message_id);
    try {
      if (pinned) await c.parley.unpin(conv.conversation_id, m.message_id);
      else await c.parley.pin(conv.conversation_id, m.message_id);
      await c.loadConversation(conv.conversation_id);
      this.renderMessages({});
      announce(pinned ? 'Message unpinned.' : 'Message pinned.');
    } catch (ex) {
      toast(ex.code === 'invalid' ? 'A chat keeps at most 3 pinned messages: unpin one first.'
        : ex.message || 'That did not work.');
    }
  }

  /** The pinned messages above the history: each leads to its message. */
  renderPins(conv) {
    const ids = conv.pinned || [];
    const bar = $('#pinned-bar');
    bar.hidden = ids.length === 0;
    const chat = this.client.chats.get(conv.conversation_id);
    fill($('#pinned-list'), ids.map((id) => {
      const m = chat && chat.byId.get(id);
      const text = !m ? 'Pinned message' : m.message_type === 'text' ? m.content.split('\n')[0] : `[${m.message_type}]`;
      return h('li', {}, h('button', { type: 'button', class: 'link pinned-item', 'data-testid': 'pinned', onclick: () => this.jumpTo(id) }, text));
    }));
  }

  /** Scrolls to the message a quote names and highlights it briefly, when it is loaded. */
  jumpTo(id) {
    const li = [...this.list.children].find((x) => x.dataset.id === id);
    if (!li) {
      toast('The original message is not loaded: load older messages to find it.');
      return;
    }
    const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
    li.scrollIntoView({ block: 'center', behavior: smooth ? 'smooth' : 'auto' });
    this.stick = false;
    li.tabIndex = -1;
    li.focus({ preventScroll: true });
    li.classList.remove('flash');
    void li.offsetWidth; // restart the animation
    li.classList.add('flash');
    clearTimeout(li.flashTimer);
    li.flashTimer = setTimeout(() => li.classList.remove('flash'), 1600);
  }

  // ---- editing (views/lifecycle.js) ----

  /** The composer takes m's text; Enter saves it as m's new content. */
  startEdit(m) {
    if (this.input.disabled || $('#composer').hidden) return;
    this.cancelReply({ focus: false });
    this.edit.start(m);
  }

  // ---- replying ----

  startReply(m) {
    if (!m.message_id || this.input.disabled || $('#composer').hidden) return;
    this.edit.cancel({ focus: false });
    this.replyTo = { message_id: m.message_id, sender_id: m.sender_id, message_type: m.message_type, content: m.content || '' };
    const name = this.client.name(m.sender_id);
    $('#reply-bar-name').textContent = name;
    $('#reply-bar-name').style.color = `hsl(${hue(m.sender_id)} 55% 25%)`;
    $('#reply-bar-text').textContent = quoteText(this.replyTo);
    $('#reply-bar .quote-box').style.borderLeftColor = `hsl(${hue(m.sender_id)} 55% 40%)`;
    const stick = this.stick || this.nearBottom();
    $('#reply-bar').hidden = false;
    if (stick) this.scrollToBottom(); // the preview took its height from the messages
    this.input.focus();
    announce(`Replying to ${name}. Escape cancels.`);
  }

  cancelReply({ focus = true } = {}) {
    const was = this.replyTo;
    this.replyTo = null;
    $('#reply-bar').hidden = true;
    if (was && focus) this.input.focus();
  }

  /** The reply being written, taken (cleared) by the send that carries it. */
  takeReply() {
    const r = this.replyTo;
    if (r) this.cancelReply({ focus: false });
    return r ? { replyTo: r.message_id } : {};
  }

  updateTicks(n, m) {
    const status = this.client.statusOf(m);
    if (n.status === status) return;
    n.status = status;
    const slot = n.li.querySelector('.tick-slot');
    if (!slot) return;
    const mark = tickMark(status);
    if (mark && (status === 'sent' || status === 'delivered' || status === 'read')) {
      // The ticks open the per-member detail (who has it, who read it).
      fill(slot, h('button', {
        type: 'button',
        class: 'tick-btn',
        'aria-label': `${mark.getAttribute('aria-label')}. Show message info`,
        'aria-haspopup': 'dialog',
        onclick: (e) => receiptPopover(this.client, m, e.currentTarget),
      }, mark));
    } else {
      fill(slot, mark);
    }
    n.li.dataset.status = status || '';
  }

  renderTicks() {
    const chat = this.client.chats.get(this.id);
    if (!chat) return;
    for (const m of chat.list) {
      const n = this.nodes.get(m.key);
      if (n) this.updateTicks(n, m);
    }
  }

  onProgress(m) {
    if (m.conversation_id !== this.id) return;
    const n = this.nodes.get(m.key);
    if (n) updateProgress(n.li, m);
  }

  async loadOlder() {
    if (!this.id || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      await this.client.loadOlder(this.id);
    } catch (e) {
      toast(`Could not load older messages: ${e.message}`);
    } finally {
      this.loadingOlder = false;
    }
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.stick = true;
  }

  nearBottom() {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < NEAR_BOTTOM_PX;
  }

  // ---- composing ----

  onKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.send();
    }
  }

  onInput() {
    this.autosize();
    this.checkLength();
    if (!this.id) return;
    const typing = this.input.value.trim() !== '';
    this.client.setComposing(this.id, typing);
    clearTimeout(this.pauseTimer);
    if (typing) this.pauseTimer = setTimeout(() => this.client.setComposing(this.id, false), PAUSE_AFTER_MS);
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  send() {
    if (this.recorder) {
      this.stopRecording(false);
      return;
    }
    const text = this.input.value.trim();
    if (!text || !this.id) return;
    if (this.checkLength()) {
      announce(this.note.textContent);
      return;
    }
    clearTimeout(this.pauseTimer);
    if (this.edit.active) {
      this.edit.save(text);
      return;
    }
    this.client.sendText(this.id, text, this.takeReply());
    this.input.value = '';
    this.autosize();
    this.input.focus();
  }

  onFiles(input) {
    const files = [...input.files];
    input.value = '';
    this.sendFiles(files);
  }

  onPaste(e) {
    const files = [...(e.clipboardData?.files || [])].filter(kindOf);
    if (!files.length) return;
    e.preventDefault();
    this.sendFiles(files);
  }

  sendFiles(files) {
    if (!this.id) return;
    if (this.checkLength()) {
      // The text goes with the attachment as its caption.
      announce(this.note.textContent);
      return;
    }
    for (const f of files) {
      const kind = kindOf(f);
      if (!kind) {
        toast(`${f.name}: only photos, videos and audio can be attached.`);
        continue;
      }
      if (!this.client.canSend(kind)) {
        toast(`${f.name}: ${CANNOT[kind] || 'this server cannot process it.'}`);
        continue;
      }
      const caption = this.input.value.trim();
      this.input.value = '';
      this.autosize();
      this.client.sendMedia(this.id, f, kind, caption, {}, this.takeReply());
    }
    this.checkLength();
    this.input.focus();
  }

  /**
   * Shows, under the messages, that the text is too long to send and by
   * how much, in bytes of UTF-8 against the server's limit (what the
   * server counts; the textarea has no maxlength, which would cut a long
   * paste silently and counts characters). True when it is too long.
   */
  checkLength() {
    const max = this.client.maxContentBytes;
    const n = utf8Length(this.input.value.trim()); // what send() would send
    const over = n > max;
    if (over) {
      this.note.textContent = `Too long to send: ${count(n)} bytes, ${count(n - max)} over the limit of ${count(max)}. Shorten it or send it in parts.`;
    } else if (this.over) {
      this.note.textContent = '';
    }
    if (over !== this.over) {
      this.over = over;
      this.note.hidden = !over;
      this.input.setAttribute('aria-invalid', String(over));
      if (over) announce('The message is too long to send.');
    }
    return over;
  }

  /** Offers voice notes and video only when the server can process them. */
  applyServer() {
    const c = this.client;
    const rec = $('#record');
    if (c.canSend('audio')) {
      rec.removeAttribute('aria-disabled');
      rec.title = 'Voice message';
    } else {
      if (this.recorder) this.stopRecording(true);
      rec.setAttribute('aria-disabled', 'true');
      rec.title = CANNOT.audio;
    }
    const kinds = ['image', 'video', 'audio'].filter((k) => c.canSend(k));
    const missing = ['video', 'audio'].filter((k) => !c.canSend(k));
    $('#attach-input').accept = kinds.map((k) => `${k}/*`).join(',');
    const attach = $('#attach');
    const label = `Attach a ${either(kinds.map((k) => ({ image: 'photo', video: 'video', audio: 'audio file' })[k]))}`;
    attach.setAttribute('aria-label', label);
    attach.title = missing.length ? `${label} (this server cannot process ${either(missing)})` : 'Attach';
    this.checkLength(); // the limit may have changed
  }

  async toggleRecording() {
    if (this.recorder) {
      this.stopRecording(false);
      return;
    }
    if (!this.client.canSend('audio')) {
      toast(CANNOT.audio);
      return;
    }
    const rec = new Recorder();
    try {
      await rec.start();
    } catch (e) {
      toast(`The microphone is not available: ${e.message}`);
      return;
    }
    this.recorder = rec;
    const button = $('#record');
    button.setAttribute('aria-pressed', 'true');
    button.setAttribute('aria-label', 'Stop and send the voice message');
    button.classList.add('recording');
    const strip = h('div', { class: 'rec-strip', role: 'status' },
      h('span', { class: 'rec-dot', 'aria-hidden': 'true' }),
      h('span', { class: 'rec-time' }, '0:00'),
      ' Recording — Enter sends, Escape cancels');
    this.input.hidden = true;
    this.input.before(strip);
    this.recStrip = strip;
    this.recTimer = setInterval(() => {
      const s = Math.floor(rec.elapsed / 1000);
      strip.querySelector('.rec-time').textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    }, 250);
    this.recKeys = (e) => {
      if (e.key === 'Escape') { e.preventDefault(); this.stopRecording(true); }
      if (e.key === 'Enter') { e.preventDefault(); this.stopRecording(false); }
    };
    document.addEventListener('keydown', this.recKeys);
    button.focus();
  }

  async stopRecording(cancel) {
    const rec = this.recorder;
    if (!rec) return;
    this.recorder = null;
    clearInterval(this.recTimer);
    document.removeEventListener('keydown', this.recKeys);
    this.recStrip.remove();
    this.input.hidden = false;
    const button = $('#record');
    button.setAttribute('aria-pressed', 'false');
    button.setAttribute('aria-label', 'Record a voice message');
    button.classList.remove('recording');
    const out = await rec.stop(cancel);
    this.input.focus();
    if (!out || !this.id) return;
    if (out.duration_ms < 500) {
      toast('Hold on a little longer: that voice message was too short.');
      return;
    }
    this.client.sendMedia(this.id, out.file, 'audio', '', { duration_ms: out.duration_ms }, this.takeReply());
  }
}

/** A quote in one line: the first line of its text, else what the media is. */
export function quoteText(q) {
  if (q.message_type === 'deleted') return 'Deleted message';
  const line = (q.content || '').split('\n').map((l) => l.trim()).find((l) => l) || '';
  if (q.message_type === 'text') return line;
  const kind = { image: 'Photo', video: 'Video', audio: 'Voice message', location: 'Location', document: 'Document' }[q.message_type] || 'Message';
  if (q.message_type === 'location') return kind;
  return line ? `${kind}: ${line}` : kind;
}

/** ['a', 'b', 'c'] → "a, b or c". */
function either(words) {
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0] || '';
}

/** Text with its http(s) links made clickable, as nodes (never HTML). */
function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer' }, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
