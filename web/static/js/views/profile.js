// The Profile screen: the display name, the "about" line and the photo
// others see (as far as the privacy choices below let them), with a
// preview of a new photo before it is saved.

import { h, avatar } from '../dom.js';
import { hue, initials } from '../format.js';

const MAX_ABOUT = 140;
const VISIBILITY = [['everyone', 'Everyone'], ['contacts', 'My contacts'], ['nobody', 'Nobody']];

/** Characters as the server counts them: code points after NFC. */
const length = (s) => [...s.normalize('NFC')].length;

/** Opens the Profile screen; resolves when it closes. */
export function profileDialog(client) {
  const parley = client.parley;
  const opener = document.activeElement;
  const me = client.user(client.me) || { display_name: '', username: client.session.username || '' };
  let photo = null; // a File chosen and not saved yet
  let removePhoto = false;
  let previewUrl = '';

  const status = h('p', { class: 'form-note', role: 'status' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const preview = h('span', { id: 'profile-preview-pic' });
  const nameInput = h('input', { id: 'profile-name', type: 'text', maxlength: 64, autocomplete: 'nickname', value: me.display_name || '' });
  const aboutInput = h('textarea', { id: 'profile-about', maxlength: MAX_ABOUT * 2, rows: 3, 'aria-describedby': 'profile-about-count' });
  aboutInput.value = me.about || '';
  const count = h('p', { id: 'profile-about-count', class: 'hint', 'aria-live': 'polite' });
  // The file input is driven by the button: one control in the tab order.
  const fileInput = h('input', { id: 'profile-photo', type: 'file', accept: 'image/jpeg,image/png,image/gif,image/webp', class: 'visually-hidden', tabindex: -1, 'aria-label': 'Photo file' });
  const choose = h('button', { type: 'button', class: 'secondary small', onclick: () => fileInput.click() }, 'Choose photo…');
  const remove = h('button', { type: 'button', class: 'danger small' }, 'Remove photo');
  const avatarVis = select('profile-avatar-vis');
  const aboutVis = select('profile-about-vis');
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const close = h('button', { type: 'button', class: 'secondary' }, 'Close');

  function select(id) {
    return h('select', { id, disabled: true }, VISIBILITY.map(([v, label]) => h('option', { value: v }, label)));
  }

  function renderPreview() {
    const name = nameInput.value.trim() || me.username;
    const url = removePhoto ? '' : previewUrl || (me.avatar && me.avatar.url_640) || '';
    preview.replaceChildren(avatar(client.me, name, hue, initials, '', url));
    remove.hidden = removePhoto || (!photo && !me.avatar);
  }

  function renderCount() {
    const n = length(aboutInput.value.trim());
    count.textContent = `${n} of ${MAX_ABOUT} characters`;
    count.classList.toggle('form-error', n > MAX_ABOUT);
  }

  fileInput.addEventListener('change', () => {
    const f = fileInput.files && fileInput.files[0];
    if (!f) return;
    if (!f.type.startsWith('image/')) {
      error.textContent = 'Choose a picture (JPEG, PNG, GIF or WebP).';
      return;
    }
    error.textContent = '';
    photo = f;
    removePhoto = false;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(f);
    renderPreview();
    status.textContent = 'New photo chosen: save to use it.';
  });
  remove.addEventListener('click', () => {
    photo = null;
    removePhoto = true;
    fileInput.value = '';
    renderPreview();
    status.textContent = 'Photo will be removed when you save.';
    choose.focus();
  });
  nameInput.addEventListener('input', renderPreview);
  aboutInput.addEventListener('input', renderCount);

  const form = h('form', { class: 'dialog-form profile-form', novalidate: true, 'aria-labelledby': 'profile-title' },
    h('h2', { id: 'profile-title', class: 'dialog-title' }, 'Profile'),
    h('p', { class: 'dialog-desc' }, 'What others see of you, as far as your choices below allow.'),
    status,
    error,
    h('div', { class: 'profile-preview' }, preview,
      h('div', { class: 'profile-photo-actions', role: 'group', 'aria-label': 'Photo' }, choose, fileInput, remove)),
    h('div', { class: 'field' }, h('label', { for: 'profile-name' }, 'Display name'), nameInput),
    h('div', { class: 'field' }, h('label', { for: 'profile-about' }, 'About'), aboutInput, count),
    h('div', { class: 'field' }, h('label', { for: 'profile-avatar-vis' }, 'Who can see my photo'), avatarVis),
    h('div', { class: 'field' }, h('label', { for: 'profile-about-vis' }, 'Who can see my about'), aboutVis),
    h('div', { class: 'dialog-actions' }, close, save));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const about = aboutInput.value.trim();
    if (length(about) > MAX_ABOUT) {
      error.textContent = `About is at most ${MAX_ABOUT} characters.`;
      aboutInput.focus();
      return;
    }
    if (/[\u0000-\u001f\u007f]/.test(about)) {
      error.textContent = 'About is one line: remove the line breaks.';
      aboutInput.focus();
      return;
    }
    save.disabled = true;
    save.setAttribute('aria-busy', 'true');
    try {
      const change = { display_name: nameInput.value.trim(), about };
      if (photo) {
        status.textContent = 'Uploading the photo…';
        change.avatar_media_id = (await parley.uploadMedia(photo, photo.type)).media_id;
      } else if (removePhoto) {
        change.avatar_media_id = '';
      }
      const u = await client.saveProfile(change);
      Object.assign(me, u);
      if (!u.avatar) delete me.avatar;
      photo = null;
      removePhoto = false;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = '';
      if (!avatarVis.disabled) {
        await parley.updateSettings({ avatar_visibility: avatarVis.value, about_visibility: aboutVis.value });
      }
      renderPreview();
      status.textContent = 'Profile saved.';
    } catch (ex) {
      status.textContent = '';
      error.textContent = ex.message || 'The profile could not be saved.';
    } finally {
      save.disabled = false;
      save.removeAttribute('aria-busy');
    }
  });

  const dlg = h('dialog', { class: 'dialog profile', 'aria-labelledby': 'profile-title' }, form);
  document.body.append(dlg);
  renderPreview();
  renderCount();
  parley.settings().then((s) => {
    avatarVis.value = s.avatar_visibility || 'everyone';
    aboutVis.value = s.about_visibility || 'everyone';
    avatarVis.disabled = false;
    aboutVis.disabled = false;
  }, () => { /* left disabled: the choice cannot be shown truthfully */ });
  return new Promise((resolve) => {
    close.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve();
    });
    dlg.showModal();
    nameInput.focus();
  });
}
