// ChatPortal's service worker: shows Web Push notifications (mentions and direct messages that
// reached a user whose tabs were all closed) and opens the conversation on click. The payload was
// encrypted for this browser (RFC 8291); it is shown as text only.
self.addEventListener('push', event => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch { data = { title: 'ChatPortal', body: event.data ? event.data.text() : '' }; }
  const title = String(data.title || 'ChatPortal');
  event.waitUntil(self.registration.showNotification(title, {
    body: String(data.body || ''),
    tag: String(data.tag || 'chatportal'),
    data: { url: typeof data.url === 'string' && data.url.startsWith('/') ? data.url : '/' },
  }));
});

self.addEventListener('notificationclick', event => {
  event.notification.close();
  const url = new URL(event.notification.data && event.notification.data.url || '/', self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of windows) {
      if (w.url === url && 'focus' in w) return w.focus();
    }
    return clients.openWindow(url);
  })());
});
