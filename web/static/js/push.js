// Web Push in this browser: the service worker (/sw.js) shows a notice for
// messages that arrive while no page of this device is connected. The
// browser asks the user once, from the bell button: a permission prompt
// may only follow a click.

/** @param {string} s base64url @returns {Uint8Array} */
function fromB64url(s) {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/** @param {ArrayBuffer|null} a @param {Uint8Array} b */
function sameKey(a, b) {
  if (!a || a.byteLength !== b.length) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}

function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/**
 * Registers the service worker and keeps this device's subscription on the
 * server. With permission already given it subscribes (again) at once; not
 * asked yet, it shows button, whose click asks.
 * @param {{vapidKey(): Promise<string>, subscribePush(s: any): Promise<void>}} parley
 * @param {HTMLElement} button
 * @param {(id: string) => void} open opens a conversation (a notice clicked)
 */
export async function setUpPush(parley, button, open) {
  if (!supported()) return;
  let reg;
  try {
    reg = await navigator.serviceWorker.register('/sw.js');
  } catch {
    return; // not a secure context, or blocked: no pushes, nothing else changes
  }
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data && e.data.type === 'open_conversation' && e.data.conversation_id) open(e.data.conversation_id);
  });
  const subscribe = async () => {
    const key = fromB64url(await parley.vapidKey());
    let sub = await reg.pushManager.getSubscription();
    // A subscription made with another server key is useless here.
    if (sub && !sameKey(sub.options.applicationServerKey, key)) {
      await sub.unsubscribe();
      sub = null;
    }
    if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    await parley.subscribePush(sub);
  };
  if (Notification.permission === 'granted') {
    try { await subscribe(); } catch { /* the server pushes nothing, or refused: the page still works */ }
    return;
  }
  if (Notification.permission === 'denied') return;
  button.hidden = false;
  button.addEventListener('click', async () => {
    button.hidden = true;
    if (await Notification.requestPermission() !== 'granted') return;
    try { await subscribe(); } catch { /* as above */ }
  }, { once: true });
}

/** Drops this browser's subscription (signing out: the server drops its copy with the session). */
export async function forgetPush() {
  if (!supported()) return;
  try {
    const reg = await navigator.serviceWorker.getRegistration();
    const sub = reg && await reg.pushManager.getSubscription();
    if (sub) await sub.unsubscribe();
  } catch { /* nothing to forget */ }
}
