// The frame of a screen that shows a list the server keeps (Devices,
// Contacts): a native <dialog>, as the other dialogs — focus is trapped
// inside, Escape closes, focus returns to the button that opened it —
// with a title, a description, a status region for what an action did,
// an alert for what failed, the list, the screen's own parts, and Close.

import { h } from '../dom.js';

/**
 * Makes the frame's parts; the caller builds its own around them, then
 * calls show.
 * @param {{name: string, title: string, desc: string}} p name prefixes the
 *   ids and is the dialog's class
 */
export function listScreen({ name, title, desc }) {
  const opener = document.activeElement;
  const titleId = `${name}-title`;
  const status = h('p', { class: 'form-note', role: 'status' });
  const listError = h('p', { class: 'form-error', role: 'alert' });
  const list = h('ul', { class: 'device-list', 'aria-labelledby': titleId });
  const close = h('button', { type: 'button', class: 'secondary' }, 'Close');
  return {
    status, listError, list, close,
    // The status region says it; a second announcement would repeat it.
    say(text) { status.textContent = text; },
    /**
     * Shows the dialog with parts after the list, runs refresh, and
     * resolves when it closes. then, if given, runs once refresh is done.
     */
    show(parts, { focus, refresh, then }) {
      const dlg = h('dialog', { class: `dialog ${name}`, 'aria-labelledby': titleId },
        h('div', { class: 'dialog-form' },
          h('h2', { id: titleId, class: 'dialog-title' }, title),
          h('p', { class: 'dialog-desc' }, desc),
          status,
          listError,
          parts,
          h('div', { class: 'dialog-actions' }, close)));
      document.body.append(dlg);
      return new Promise((resolve) => {
        close.addEventListener('click', () => dlg.close());
        dlg.addEventListener('close', () => {
          dlg.remove();
          if (opener && opener.isConnected) opener.focus();
          resolve();
        });
        dlg.showModal();
        focus.focus();
        refresh().then(() => then && then(dlg));
      });
    },
  };
}
