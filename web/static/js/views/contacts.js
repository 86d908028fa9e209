// The Contacts screen: who sees what this account keeps for its contacts
// (the people it chatted with, plus those it added, minus those it
// removed), adding one by user ID and removing one.

import { h, fill } from '../dom.js';
import { listScreen } from './screen.js';

/** Opens the Contacts screen; resolves when it closes. */
export function contactsDialog(client) {
  const parley = client.parley;
  const { listError, list, say, show } = listScreen({
    name: 'contacts', title: 'Contacts',
    desc: 'The people who see your presence when you keep it for your contacts.',
  });
  const empty = h('p', { class: 'form-note', hidden: true }, 'No contacts yet.');

  const idInput = h('input', { id: 'contact-id', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'contact-hint' });
  const addError = h('p', { class: 'form-error', role: 'alert' });
  const addSubmit = h('button', { type: 'submit', class: 'primary' }, 'Add contact');
  const addForm = h('form', { class: 'password-form', novalidate: true, 'aria-labelledby': 'contact-add-title' },
    h('h3', { id: 'contact-add-title', class: 'dialog-subtitle' }, 'Add a contact'),
    h('div', { class: 'field' }, h('label', { for: 'contact-id' }, 'User ID'), idInput,
      h('p', { id: 'contact-hint', class: 'hint' }, 'They will see what you keep for your contacts.')),
    addError,
    h('div', { class: 'dialog-actions' }, addSubmit));


  async function refresh() {
    listError.textContent = '';
    let contacts;
    try {
      contacts = await parley.contacts();
    } catch (ex) {
      listError.textContent = ex.message || 'The contacts could not be loaded.';
      return;
    }
    empty.hidden = contacts.length > 0;
    fill(list, contacts.map((c) => {
      const name = c.display_name || c.username;
      return h('li', { class: 'device', 'data-testid': 'contact', 'data-id': c.user_id },
        h('div', { class: 'device-main' },
          h('span', { class: 'device-name' }, name),
          h('span', { class: 'device-when' }, `@${c.username}`)),
        h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Remove ${name}`,
          onclick: async (e) => {
            const b = e.currentTarget;
            b.disabled = true;
            try {
              await parley.removeContact(c.user_id);
              say(`${name} is no longer a contact.`);
            } catch (ex) {
              listError.textContent = ex.message || 'That contact could not be removed.';
              b.disabled = false;
              return;
            }
            await refresh();
            idInput.focus(); // its button is gone with it
          },
        }, 'Remove'));
    }));
  }

  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    addError.textContent = '';
    const id = idInput.value.trim();
    if (!id) {
      addError.textContent = 'Enter a user ID.';
      idInput.focus();
      return;
    }
    addSubmit.disabled = true;
    try {
      await parley.addContact(id);
      idInput.value = '';
      say('Contact added.');
      await refresh();
    } catch (ex) {
      addError.textContent = ex.code === 'not_found' ? 'There is no user with that ID.'
        : ex.code === 'invalid' ? 'That is your own ID.'
          : ex.message || 'Something went wrong.';
      idInput.focus();
    } finally {
      addSubmit.disabled = false;
    }
  });

  return show([empty, list, addForm], { focus: idInput, refresh });
}
