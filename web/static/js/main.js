// Entry point: the session (token in localStorage), the sign-in form, and
// the signed-in app with its routes: / (the list) and /c/{conversation_id},
// and an invite link's /#/join/{code} over either (a hash, so that a
// signed-out visitor keeps it through signing in).
// The server is reached through the JavaScript SDK alone: one Parley
// object per page, which keeps its outbox and cursors in localStorage.

import { Parley } from '/sdk/index.js';
import { Client } from './client.js';
import { setUpPush, forgetPush } from './push.js';
import { $, toast, announce } from './dom.js';
import { hydrateIcons } from './icons.js';
import { Sidebar } from './views/sidebar.js';
import { ChatView } from './views/chat.js';
import { webDeviceName } from './views/devices.js';
import { joinCode, joinDialog } from './views/groupinfo.js';

const SESSION_KEY = 'parley.session';
const NOTICE_KEY = 'parley.notice';

function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    if (s && s.token && s.user_id && (!s.expires_at || s.expires_at > Date.now())) return s;
  } catch { /* a corrupt entry is a signed-out user */ }
  return null;
}

/** localStorage, or nothing where the browser refuses it (the outbox then lasts as long as the page). */
function storage() {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

let session = loadSession();
let client = null;
let views = null;
// catchUpOnConnect: false, because the client fetches the conversation
// list on every connection anyway and hands it to the SDK's catchUp().
const parley = new Parley({
  token: session ? session.token : undefined,
  userId: session ? session.user_id : undefined,
  storage: storage(),
  catchUpOnConnect: false,
});
let leaving = false; // this page is signing out: the session's end is ours

function saveSession(s) {
  session = s;
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
}

// Signing out reloads the page: nothing of the previous user (listeners,
// timers, the socket) can outlive it. The reason survives the reload in
// sessionStorage.
function signOut(message) {
  if (!session) return;
  saveSession(null);
  if (client) client.stop();
  client = null;
  views = null;
  try { sessionStorage.setItem(NOTICE_KEY, message || ''); } catch { /* shown nowhere, then */ }
  location.replace('/');
}

// signOutHere is the user's own sign-out: the session ends on the server
// too. The socket closes first, so the server's 4001 for this session is
// not mistaken for someone else's doing; a server that cannot be reached
// does not keep the user in.
async function signOutHere() {
  leaving = true;
  if (client) client.stop();
  await forgetPush();
  try { await parley.logout(); } catch { /* the token is forgotten here anyway */ }
  signOut('You signed out.');
}

// endedMessage says why the session ended: a 401 on a call, or the
// server's close 4001 with its reason.
function endedMessage(why) {
  if (why === 'unauthorized') return 'Your session has expired. Please sign in again.';
  if (why && why.includes('too many devices')) return 'You were signed out: this account signed in on too many devices.';
  if (why && why.includes('expired')) return 'Your session has expired. Please sign in again.';
  if (why && why.includes('account deleted')) return 'Your account is deleted.';
  if (why && why.includes('password changed')) return 'You were signed out: the password was changed on another device.';
  return 'You were signed out from another device.';
}

// ---- signing in ----

let registering = false;

function setMode(reg) {
  registering = reg;
  const login = $('#tab-login');
  const register = $('#tab-register');
  login.setAttribute('aria-selected', String(!reg));
  register.setAttribute('aria-selected', String(reg));
  login.tabIndex = reg ? -1 : 0;
  register.tabIndex = reg ? 0 : -1;
  $('#auth-form').setAttribute('aria-labelledby', reg ? 'tab-register' : 'tab-login');
  $('#auth-display-row').hidden = !reg;
  $('#auth-password').autocomplete = reg ? 'new-password' : 'current-password';
  $('#auth-submit').textContent = reg ? 'Create account' : 'Sign in';
  $('#auth-switch-text').textContent = reg ? 'Have an account?' : 'New to Parley?';
  $('#auth-switch').textContent = reg ? 'Sign in instead' : 'Create an account';
  $('#auth-error').textContent = '';
}

/**
 * Shows the sign-in form. notice says why the user is here (signed out,
 * session expired): information, shown apart from #auth-error, which is
 * kept for what went wrong with an attempt to sign in.
 */
function showAuth(notice) {
  $('#app-view').hidden = true;
  $('#auth-view').hidden = false;
  document.title = 'Parley — sign in';
  $('#auth-notice').textContent = notice || '';
  $('#auth-error').textContent = '';
  $('#auth-password').value = '';
  $('#auth-username').focus();
}

function wireAuth() {
  $('#tab-login').addEventListener('click', () => setMode(false));
  $('#tab-register').addEventListener('click', () => setMode(true));
  // Arrow keys move between the two tabs, as a tablist should.
  $('.tabs').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    setMode(!registering);
    (registering ? $('#tab-register') : $('#tab-login')).focus();
  });
  $('#auth-switch').addEventListener('click', () => {
    setMode(!registering);
    $('#auth-username').focus();
  });
  $('#auth-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = $('#auth-username').value.trim();
    const password = $('#auth-password').value;
    const display = $('#auth-display').value.trim();
    const err = $('#auth-error');
    err.textContent = '';
    $('#auth-notice').textContent = ''; // why the user was signed out matters no more
    if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username)) {
      err.textContent = 'A username is 3–32 letters, digits, _ . or -.';
      $('#auth-username').focus();
      return;
    }
    if (password.length < 8) {
      err.textContent = 'The password needs at least 8 characters.';
      $('#auth-password').focus();
      return;
    }
    const button = $('#auth-submit');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      if (registering) await parley.register(username, password, display);
      const s = await parley.login(username, password, { deviceName: webDeviceName() });
      saveSession({ token: s.token, user_id: s.user_id, expires_at: s.expires_at, username });
      await startApp();
      // The form is gone with the focus in it: to the list, unless a
      // chat opened and put it in its message box.
      if (!$('#app-view').contains(document.activeElement)) views.sidebar.focusList();
    } catch (ex) {
      err.textContent = ex.code === 'conflict' ? 'That username is taken. Try another one.'
        : ex.code === 'unauthorized' ? 'Wrong username or password.'
          : ex.message || 'Something went wrong.';
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  });
}

// ---- signed in ----

function route() {
  if (!views) return;
  const m = location.pathname.match(/^\/c\/([^/]+)$/);
  views.chat.open(m ? decodeURIComponent(m[1]) : null);
}

/** Opens a conversation and records it in the address bar. */
function navigate(id, { replace = false } = {}) {
  const path = id ? `/c/${encodeURIComponent(id)}` : '/';
  if (location.pathname !== path) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  }
  route();
}

let joining = false;

/** Opens the join page of an invite link in the address, once. */
async function openJoin() {
  const code = joinCode();
  if (!views || !code || joining) return;
  joining = true;
  try {
    const id = await joinDialog(client, code);
    // The link is done with: the address becomes the chat or the page under it.
    history.replaceState(null, '', location.pathname);
    if (id) navigate(id);
  } finally {
    joining = false;
  }
}

async function startApp() {
  $('#auth-view').hidden = true;
  $('#app-view').hidden = false;
  document.title = 'Parley';
  client = new Client(session, parley);
  const nav = { navigate, signOut: signOutHere, focusList: (id) => views.sidebar.focusList(id) };
  views = { sidebar: new Sidebar(client, nav), chat: new ChatView(client, nav) };
  client.addEventListener('signedout', (e) => { if (!leaving) signOut(endedMessage(e.detail.why)); });
  client.addEventListener('notice', (e) => toast(e.detail.text));
  client.addEventListener('incoming', (e) => {
    const m = e.detail.message;
    if (m.message_type === 'system' || client.isMuted(m.conversation_id)) return;
    const conv = client.conversation(m.conversation_id);
    const where = conv && conv.type === 'group' ? ` in ${client.title(conv)}` : '';
    const what = m.message_type === 'text' ? m.content : `a ${m.message_type === 'audio' ? 'voice message' : m.message_type}`;
    announce(`${client.name(m.sender_id, { you: false })}${where}: ${what}`);
  });
  await client.start();
  route();
  openJoin();
  // Not awaited: registering the worker and subscribing never holds up the page.
  setUpPush(parley, $('#notify'), (id) => navigate(id));
}

window.addEventListener('popstate', route);
window.addEventListener('hashchange', openJoin);

// The skip links move the focus themselves: following their #fragment
// would change the address, which is the route.
for (const link of document.querySelectorAll('.skip-link')) {
  link.addEventListener('click', (e) => {
    e.preventDefault();
    if (!views) return;
    if (link.dataset.skip === 'composer') $('#composer-input').focus();
    else views.sidebar.focusList();
  });
}

hydrateIcons();
wireAuth();
setMode(false);
if (session) {
  startApp();
} else {
  const notice = sessionStorage.getItem(NOTICE_KEY) || '';
  sessionStorage.removeItem(NOTICE_KEY);
  showAuth(notice);
}
