// The Group info screen (description, the admins' settings, invite links)
// and the page an invite link opens (/#/join/<code>): what the group is,
// and Join.

import { h, fill, toast } from '../dom.js';
import { listScreen } from './screen.js';
import { disappearingSetting } from './disappearing.js';

const MAX_DESCRIPTION = 512;

/** The link a code makes: this page, at the join route. */
export function inviteLink(code) {
  return `${location.origin}/#/join/${encodeURIComponent(code)}`;
}

/** The invite code of a /#/join/<code> address, or null. */
export function joinCode(hash = location.hash) {
  const m = /^#\/join\/([^/?#]+)$/.exec(hash);
  return m ? decodeURIComponent(m[1]) : null;
}

/** Opens a group's info screen; resolves when it closes. */
export function groupInfoDialog(client, convId) {
  const parley = client.parley;
  const conv0 = client.conversation(convId);
  const { listError, list, say, show } = listScreen({
    name: 'group-info', title: conv0 ? `${client.title(conv0)} — group info` : 'Group info',
    desc: 'What the group is about, who may send and edit it, and the links that let people join.',
  });

  const descInput = h('textarea', { id: 'group-description', rows: '3', maxlength: String(MAX_DESCRIPTION), 'aria-describedby': 'group-description-hint' });
  const descError = h('p', { class: 'form-error', role: 'alert' });
  const descSave = h('button', { type: 'submit', class: 'primary small' }, 'Save description');
  const descForm = h('form', { class: 'password-form', novalidate: true, 'aria-labelledby': 'group-description-title' },
    h('h3', { id: 'group-description-title', class: 'dialog-subtitle' }, 'Description'),
    h('div', { class: 'field' }, h('label', { for: 'group-description' }, 'Group description'), descInput,
      h('p', { id: 'group-description-hint', class: 'hint' }, `Up to ${MAX_DESCRIPTION} characters.`)),
    descError,
    h('div', { class: 'dialog-actions' }, descSave));

  // The group's photo: uploaded through the SDK, cropped square by the server.
  const photoInput = h('input', { id: 'group-photo', type: 'file', accept: 'image/jpeg,image/png,image/gif,image/webp', class: 'visually-hidden', tabindex: -1, 'aria-label': 'Group photo file' });
  const photoChoose = h('button', { type: 'button', class: 'secondary small', onclick: () => photoInput.click() }, 'Change group photo…');
  const photoRemove = h('button', { type: 'button', class: 'danger small' }, 'Remove group photo');
  const photoError = h('p', { class: 'form-error', role: 'alert' });
  const photoSection = h('section', { 'aria-labelledby': 'group-photo-title' },
    h('h3', { id: 'group-photo-title', class: 'dialog-subtitle' }, 'Group photo'),
    photoInput, photoError, h('div', { class: 'dialog-actions' }, photoChoose, photoRemove));

  const sendBox = h('input', { id: 'only-admins-send', type: 'checkbox' });
  const editBox = h('input', { id: 'only-admins-edit', type: 'checkbox' });
  const settingsError = h('p', { class: 'form-error', role: 'alert' });
  const settings = h('fieldset', { class: 'group-settings' },
    h('legend', { class: 'dialog-subtitle' }, 'Settings (admins)'),
    h('div', { class: 'check-row' }, sendBox, h('label', { for: 'only-admins-send' }, 'Only admins can send messages')),
    h('div', { class: 'check-row' }, editBox, h('label', { for: 'only-admins-edit' }, 'Only admins can edit the group info')),
    settingsError);

  const disappearing = disappearingSetting(client, convId, say);

  const create = h('button', { type: 'button', class: 'primary small', id: 'create-invite' }, 'Create invite link');
  const empty = h('p', { class: 'form-note', hidden: true }, 'No invite links. Create one to let people join by it.');
  const invites = h('section', { 'aria-labelledby': 'invites-title' },
    h('h3', { id: 'invites-title', class: 'dialog-subtitle' }, 'Invite links'),
    h('p', { class: 'hint' }, 'Anyone with a link can see the group’s name, description and size, and join it until you revoke the link.'),
    empty, list, h('div', { class: 'dialog-actions' }, create));

  /** Shows the group as it is now: what the caller may change, enabled. */
  function render() {
    const conv = client.conversation(convId);
    if (!conv) return;
    const admin = client.isAdmin(conv);
    if (document.activeElement !== descInput) descInput.value = conv.description || '';
    const mayEdit = admin || !conv.only_admins_edit_info;
    descInput.readOnly = !mayEdit;
    descSave.hidden = !mayEdit;
    sendBox.checked = !!conv.only_admins_send;
    editBox.checked = !!conv.only_admins_edit_info;
    sendBox.disabled = !admin;
    editBox.disabled = !admin;
    disappearing.render();
    invites.hidden = !admin;
    photoChoose.hidden = !mayEdit;
    photoRemove.hidden = !mayEdit || !conv.avatar;
  }

  async function changePhoto(set) {
    photoError.textContent = '';
    photoChoose.disabled = photoRemove.disabled = true;
    try {
      await set();
      await client.loadConversation(convId);
      say('Group photo saved.');
    } catch (ex) {
      photoError.textContent = ex.code === 'forbidden' ? 'Only admins can edit this group’s info.'
        : ex.code === 'invalid' ? 'That file is not a photo this server can use.'
          : ex.message || 'The photo could not be saved.';
    } finally {
      photoChoose.disabled = photoRemove.disabled = false;
      render();
    }
  }
  photoInput.addEventListener('change', () => {
    const f = photoInput.files && photoInput.files[0];
    photoInput.value = '';
    if (f) changePhoto(() => parley.setGroupAvatar(convId, f, f.type));
  });
  photoRemove.addEventListener('click', () => changePhoto(() => parley.removeGroupAvatar(convId)));

  async function refresh() {
    render();
    listError.textContent = '';
    const conv = client.conversation(convId);
    if (!conv || !client.isAdmin(conv)) return;
    let links;
    try {
      links = await parley.invites(convId);
    } catch (ex) {
      listError.textContent = ex.message || 'The invite links could not be loaded.';
      return;
    }
    empty.hidden = links.length > 0;
    fill(list, links.map((inv, i) => {
      const url = inviteLink(inv.code);
      const label = `Invite link ${i + 1}`;
      return h('li', { class: 'device', 'data-testid': 'invite', 'data-code': inv.code },
        h('div', { class: 'device-main' },
          h('span', { class: 'device-name' }, label),
          h('code', { class: 'invite-url', 'data-testid': 'invite-url' }, url)),
        h('button', {
          type: 'button', class: 'secondary small', 'aria-label': `Copy ${label}`,
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(url);
              say(`${label} copied.`);
            } catch {
              toast('Copy the link from the list with Ctrl+C.');
            }
          },
        }, 'Copy'),
        h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Revoke ${label}`,
          onclick: async (e) => {
            const b = e.currentTarget;
            b.disabled = true;
            try {
              await parley.revokeInvite(convId, inv.code);
              say(`${label} revoked: it no longer works.`);
            } catch (ex) {
              listError.textContent = ex.message || 'That link could not be revoked.';
              b.disabled = false;
              return;
            }
            await refresh();
            create.focus(); // its button is gone with it
          },
        }, 'Revoke'));
    }));
  }

  descForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    descError.textContent = '';
    descSave.disabled = true;
    try {
      await parley.updateGroup(convId, { description: descInput.value });
      await client.loadConversation(convId);
      say('Description saved.');
    } catch (ex) {
      descError.textContent = ex.code === 'forbidden' ? 'Only admins can edit this group’s info.'
        : ex.code === 'invalid' ? `A description is up to ${MAX_DESCRIPTION} characters, without control characters.`
          : ex.message || 'Something went wrong.';
      descInput.focus();
    } finally {
      descSave.disabled = false;
    }
  });

  for (const [box, field] of [[sendBox, 'only_admins_send'], [editBox, 'only_admins_edit_info']]) {
    box.addEventListener('change', async () => {
      settingsError.textContent = '';
      box.disabled = true;
      try {
        await parley.updateGroup(convId, { [field]: box.checked });
        await client.loadConversation(convId);
        say('Setting saved.');
      } catch (ex) {
        settingsError.textContent = ex.message || 'The setting could not be saved.';
        box.checked = !box.checked;
      } finally {
        render();
      }
    });
  }

  create.addEventListener('click', async () => {
    create.disabled = true;
    listError.textContent = '';
    try {
      await parley.createInvite(convId);
      say('Invite link created.');
      await refresh();
    } catch (ex) {
      listError.textContent = ex.message || 'The link could not be created.';
    } finally {
      create.disabled = false;
    }
  });

  const onChange = () => render();
  client.addEventListener('conversations', onChange);
  return show([photoSection, descForm, settings, disappearing.section, invites], { focus: descInput, refresh })
    .finally(() => client.removeEventListener('conversations', onChange));
}

/**
 * The page an invite link opens: the group's name, description and size,
 * and Join. Resolves with the joined conversation's id, or null.
 */
export function joinDialog(client, code) {
  const parley = client.parley;
  const { status, listError, close, show } = listScreen({
    name: 'join', title: 'Join a group',
    desc: 'Someone shared an invite link with you.',
  });
  close.textContent = 'Not now';
  const name = h('h3', { class: 'dialog-subtitle', id: 'join-name', 'data-testid': 'join-name' });
  const description = h('p', { class: 'join-description', 'data-testid': 'join-description' });
  const count = h('p', { class: 'hint', 'data-testid': 'join-count' });
  const join = h('button', { type: 'button', class: 'primary', id: 'join-group', disabled: true }, 'Join group');
  const card = h('section', { class: 'join-card', 'aria-labelledby': 'join-name', 'aria-busy': 'true' }, name, description, count,
    h('div', { class: 'dialog-actions' }, join));
  let joined = null;

  async function refresh() {
    try {
      const p = await parley.previewInvite(code);
      name.textContent = p.name || 'A group without a name';
      description.textContent = p.description || '';
      description.hidden = !p.description;
      count.textContent = p.member_count === 1 ? '1 member' : `${p.member_count} members`;
      join.disabled = false;
    } catch (ex) {
      name.textContent = 'This link does not work';
      listError.textContent = ex.code === 'not_found' ? 'The invite link is not valid: it may have been revoked.'
        : ex.message || 'The invite link could not be opened.';
      join.hidden = true;
    } finally {
      card.removeAttribute('aria-busy');
    }
  }

  join.addEventListener('click', async () => {
    join.disabled = true;
    listError.textContent = '';
    try {
      const c = await parley.joinByInvite(code);
      await client.loadConversation(c.conversation_id);
      joined = c.conversation_id;
      status.textContent = 'Joined.';
      close.click();
    } catch (ex) {
      listError.textContent = ex.code === 'group_full' ? 'This group is full.'
        : ex.code === 'not_found' ? 'The invite link is not valid any more.'
          : ex.message || 'Something went wrong.';
      join.disabled = false;
    }
  });

  return show([card], { focus: close, refresh, then: () => { if (!join.hidden) join.focus(); } }).then(() => joined);
}
