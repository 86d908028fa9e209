// The Devices screen: where this account is signed in (name, since when,
// last active, "this device"), signing out one device or every other
// one, and changing the password (which signs the others out too).

import { h, fill, toast } from '../dom.js';
import { fullTime } from '../format.js';
import { listScreen } from './screen.js';

/**
 * What this browser calls itself in the devices list: "Chrome on Linux"
 * rather than a User-Agent cut at 64 characters.
 */
export function webDeviceName(ua = navigator.userAgent) {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'A browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS'
    : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

/** Opens the Devices screen; resolves when it closes. */
export function devicesDialog(client) {
  const parley = client.parley;
  const { listError, list, close, say, show } = listScreen({
    name: 'devices', title: 'Devices', desc: 'Where your account is signed in.',
  });
  const endOthers = h('button', { type: 'button', class: 'danger', hidden: true }, 'Sign out all other devices');

  const current = h('input', { id: 'pw-current', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'pw-new', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256, 'aria-describedby': 'pw-hint' });
  const pwError = h('p', { class: 'form-error', role: 'alert' });
  const pwSubmit = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const pwForm = h('form', { class: 'password-form', novalidate: true, 'aria-labelledby': 'pw-title' },
    h('h3', { id: 'pw-title', class: 'dialog-subtitle' }, 'Change password'),
    h('div', { class: 'field' }, h('label', { for: 'pw-current' }, 'Current password'), current),
    h('div', { class: 'field' }, h('label', { for: 'pw-new' }, 'New password'), next,
      h('p', { id: 'pw-hint', class: 'hint' }, 'At least 8 characters. Your other devices will be signed out.')),
    pwError,
    h('div', { class: 'dialog-actions' }, pwSubmit));


  async function refresh() {
    listError.textContent = '';
    let sessions;
    try {
      sessions = await parley.sessions();
    } catch (ex) {
      listError.textContent = ex.message || 'The devices could not be loaded.';
      return;
    }
    const others = sessions.filter((s) => !s.current);
    endOthers.hidden = others.length === 0;
    fill(list, sessions.map((s) => {
      const name = s.device_name || 'Unnamed device';
      const nameId = `device-${s.session_id}`;
      return h('li', { class: 'device', 'data-testid': 'device', 'data-current': s.current ? 'true' : 'false' },
        h('div', { class: 'device-main' },
          h('span', { id: nameId, class: 'device-name' }, name),
          s.current ? h('span', { class: 'role' }, 'This device') : null,
          h('span', { class: 'device-when' }, `Signed in ${fullTime(s.created_at)}`),
          h('span', { class: 'device-when' }, s.current ? 'Active now' : `Last active ${fullTime(s.last_active_at)}`)),
        s.current ? null : h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Sign out ${name}`,
          onclick: async (e) => {
            const b = e.currentTarget;
            b.disabled = true;
            try {
              await parley.endSession(s.session_id);
              say(`${name} is signed out.`);
            } catch (ex) {
              if (ex.status !== 404) {
                listError.textContent = ex.message || 'That device could not be signed out.';
                b.disabled = false;
                return;
              }
            }
            await refresh();
            close.focus(); // its button is gone with it
          },
        }, 'Sign out'));
    }));
  }

  endOthers.addEventListener('click', async () => {
    endOthers.disabled = true;
    try {
      await parley.endOtherSessions();
      say('Every other device is signed out.');
      await refresh();
      close.focus();
    } catch (ex) {
      listError.textContent = ex.message || 'The other devices could not be signed out.';
    } finally {
      endOthers.disabled = false;
    }
  });

  pwForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    pwError.textContent = '';
    if (!current.value) {
      pwError.textContent = 'Enter your current password.';
      current.focus();
      return;
    }
    if (next.value.length < 8) {
      pwError.textContent = 'The new password needs at least 8 characters.';
      next.focus();
      return;
    }
    pwSubmit.disabled = true;
    try {
      await parley.changePassword(current.value, next.value);
      current.value = '';
      next.value = '';
      say('Your password is changed. Your other devices are signed out.');
      toast('Password changed');
      await refresh();
    } catch (ex) {
      pwError.textContent = ex.code === 'unauthorized' ? 'That is not your current password.'
        : ex.code === 'rate_limited' ? 'Too many attempts. Try again later.'
          : ex.message || 'Something went wrong.';
      (ex.code === 'unauthorized' ? current : next).focus();
    } finally {
      pwSubmit.disabled = false;
    }
  });

  // Deleting the account: the password again, and a box that says what
  // it means, so that no single slip of a click destroys it.
  const delPassword = h('input', { id: 'del-password', type: 'password', autocomplete: 'current-password', required: true });
  const delSure = h('input', { id: 'del-sure', type: 'checkbox', required: true });
  const delError = h('p', { class: 'form-error', role: 'alert' });
  const delSubmit = h('button', { type: 'submit', class: 'danger' }, 'Delete my account');
  const delForm = h('form', { class: 'password-form', novalidate: true, 'aria-labelledby': 'del-title' },
    h('h3', { id: 'del-title', class: 'dialog-subtitle' }, 'Delete account'),
    h('p', { class: 'hint', id: 'del-hint' }, 'Your chats, contacts and photos go, and every device is signed out. What you sent stays with the people you sent it to, shown as from a deleted account. This cannot be undone.'),
    h('div', { class: 'field' }, h('label', { for: 'del-password' }, 'Password'), delPassword),
    h('div', { class: 'field check' }, delSure, h('label', { for: 'del-sure' }, 'I understand that this cannot be undone')),
    delError,
    h('div', { class: 'dialog-actions' }, delSubmit));
  delForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    delError.textContent = '';
    if (!delPassword.value) {
      delError.textContent = 'Enter your password.';
      delPassword.focus();
      return;
    }
    if (!delSure.checked) {
      delError.textContent = 'Tick the box to confirm.';
      delSure.focus();
      return;
    }
    delSubmit.disabled = true;
    try {
      await parley.deleteAccount(delPassword.value);
      // The socket closes with 4001 and the page signs out by itself.
    } catch (ex) {
      delError.textContent = ex.code === 'unauthorized' ? 'That is not your password.'
        : ex.code === 'rate_limited' ? 'Too many attempts. Try again later.'
          : ex.message || 'Something went wrong.';
      delPassword.focus();
      delSubmit.disabled = false;
    }
  });

  return show([list, h('div', { class: 'leave-row' }, endOthers), pwForm, delForm], {
    focus: close,
    refresh,
    then(dlg) {
      // The list is the screen: start there, on its first control.
      const first = list.querySelector('button') || endOthers;
      if (!first.hidden && dlg.open && document.activeElement === close) first.focus();
    },
  });
}
