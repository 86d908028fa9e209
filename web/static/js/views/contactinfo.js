// Contact info of a 1:1: who the other person is, and the choices that
// are this user's alone — muting the chat (this browser only) and
// blocking (private: nothing tells them; their messages stop arriving,
// and neither sees the other's presence).

import { h } from '../dom.js';
import { lastSeen } from '../format.js';
import { listScreen } from './screen.js';
import { disappearingSetting } from './disappearing.js';

/** Opens the contact info of userId, the other member of convId; resolves when it closes. */
export function contactInfoDialog(client, userId, convId) {
  const name = client.name(userId, { you: false });
  const { say, listError, show } = listScreen({
    name: 'contact-info', title: name, desc: 'Contact info',
  });
  const who = h('p', { class: 'info-line', 'data-testid': 'contact-username' });
  const seen = h('p', { class: 'info-line' });
  const mute = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' });
  const block = h('button', { type: 'button', class: 'danger' });
  const disappearing = disappearingSetting(client, convId, say);

  function render() {
    const u = client.users.get(userId);
    who.textContent = u && u.username ? `@${u.username}` : '';
    const blocked = client.isBlocked(userId);
    const p = client.presence.get(userId);
    seen.textContent = blocked || !p ? '' : p.status === 'online' ? 'online' : lastSeen(p.last_seen);
    const muted = client.isMuted(convId);
    mute.textContent = muted ? 'Unmute notifications' : 'Mute notifications';
    mute.setAttribute('aria-pressed', String(muted));
    block.textContent = blocked ? `Unblock ${name}` : `Block ${name}`;
    block.className = blocked ? 'secondary' : 'danger';
    disappearing.render();
  }

  mute.addEventListener('click', () => {
    const on = !client.isMuted(convId);
    client.setMuted(convId, on);
    render();
    say(on ? 'Notifications of this chat are muted on this device.' : 'Notifications of this chat are on.');
  });
  block.addEventListener('click', async () => {
    listError.textContent = '';
    const blocked = client.isBlocked(userId);
    block.disabled = true;
    try {
      if (blocked) await client.unblock(userId);
      else await client.block(userId);
      say(blocked ? `${name} is unblocked. Their new messages will arrive.`
        : `${name} is blocked. They will not be told; their messages will not reach you.`);
    } catch (ex) {
      listError.textContent = ex.message || 'That did not work. Try again.';
    } finally {
      block.disabled = false;
      render();
      block.focus();
    }
  });

  const off = () => render();
  client.addEventListener('blocks', off);
  client.addEventListener('presence', off);
  client.addEventListener('conversations', off);
  const done = show([who, seen, disappearing.section, h('div', { class: 'info-actions' }, mute, block)], {
    focus: block,
    refresh: async () => render(),
  });
  return done.finally(() => {
    client.removeEventListener('blocks', off);
    client.removeEventListener('presence', off);
    client.removeEventListener('conversations', off);
  });
}
