// The disappearing-messages setting of a chat, in its info screen: any
// member of a 1:1, an admin of a group (others see it, disabled).

import { h } from '../dom.js';
import { DISAPPEAR_OPTIONS } from '../format.js';

/**
 * A section with the setting as a select; render() shows the chat as it is.
 * @returns {{section: HTMLElement, render: () => void}}
 */
export function disappearingSetting(client, convId, say) {
  const select = h('select', { id: 'disappearing-select', 'data-testid': 'disappearing-select', 'aria-describedby': 'disappearing-hint' },
    DISAPPEAR_OPTIONS.map((o) => h('option', { value: String(o.seconds) }, o.label)));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const section = h('section', { 'aria-labelledby': 'disappearing-title' },
    h('h3', { id: 'disappearing-title', class: 'dialog-subtitle' }, 'Disappearing messages'),
    h('label', { for: 'disappearing-select' }, 'New messages disappear after'), ' ', select,
    h('p', { id: 'disappearing-hint', class: 'hint' }, 'When on, each new message in this chat is deleted for everyone that long after it is sent. Messages sent before are kept.'),
    error);

  function render() {
    const conv = client.conversation(convId);
    if (!conv) return;
    if (document.activeElement !== select) select.value = String(conv.disappearing_seconds || 0);
    select.disabled = conv.type === 'group' && !client.isAdmin(conv);
  }

  select.addEventListener('change', async () => {
    error.textContent = '';
    select.disabled = true;
    try {
      await client.setDisappearing(convId, Number(select.value));
      say(Number(select.value) ? 'Disappearing messages are on.' : 'Disappearing messages are off.');
    } catch (ex) {
      error.textContent = ex.code === 'forbidden' ? 'Only admins can change this.' : ex.message || 'The setting could not be saved.';
    } finally {
      select.blur();
      render();
    }
  });
  render();
  return { section, render };
}
