// The service worker: it shows a notice for each Web Push the server sends
// while this device has no connection (docs/PROTOCOL.md §9). A push names
// the conversation and the sender, never the content; opening the notice
// opens the conversation, and the page fetches the rest over its own
// connection. It lives at the site's root so that its scope is the whole
// client.

self.addEventListener('push', (event) => {
  /** @type {{type?: string, conversation_id?: string, sender_name?: string, unread?: number}} */
  let n = {};
  try { n = event.data ? event.data.json() : {}; } catch { /* not ours: shown as a plain notice */ }
  const unread = Number(n.unread) || 0;
  event.waitUntil((async () => {
    // The badge counts the conversation's unread, the best this worker
    // knows; the page sets the real total when it opens.
    if ('setAppBadge' in navigator && unread > 0) {
      try { await navigator.setAppBadge(unread); } catch { /* no badges here */ }
    }
    // Every push shows a notice (userVisibleOnly): one per conversation,
    // replaced by the next.
    await self.registration.showNotification(n.sender_name || 'Parley', {
      body: unread > 1 ? `${unread} new messages` : 'New message',
      tag: n.conversation_id || 'parley',
      renotify: true,
      icon: '/favicon.svg',
      data: { conversation_id: n.conversation_id || '' },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = (event.notification.data && event.notification.data.conversation_id) || '';
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of wins) {
      // An open page navigates itself (main.js), keeping its connection.
      w.postMessage({ type: 'open_conversation', conversation_id: id });
      return w.focus();
    }
    return self.clients.openWindow(id ? `/c/${encodeURIComponent(id)}` : '/');
  })());
});
