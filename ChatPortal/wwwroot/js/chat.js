// Small DOM helpers for the chat view. No user text is ever written as HTML here:
// only textContent, attributes set by Blazor, and the browser's own Notification API.
window.chatPortal = {
  // Enter sends, Shift+Enter makes a new line; never while an IME (e.g. Chinese input) is composing.
  // With the @-mention menu open, arrows move in it and Enter/Tab pick. Pasted or dropped image
  // files are handed to the composer's <input type=file>, so they stream through Blazor's InputFile.
  bindComposer(textarea, buttonId, fileInputId, dotnet) {
    if (!textarea || textarea._chatBound) return;
    textarea._chatBound = true;
    window.chatPortalReady = true; // tests wait for the live circuit through this
    textarea.addEventListener('keydown', e => {
      if (e.isComposing || e.keyCode === 229) return;
      const menu = document.getElementById('mention-menu');
      if (menu) {
        const items = [...menu.querySelectorAll('.mention-item')];
        let i = items.findIndex(x => x.classList.contains('active'));
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault();
          if (i >= 0) items[i].classList.remove('active');
          i = (i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
          items[i].classList.add('active');
          items[i].scrollIntoView({ block: 'nearest' });
          return;
        }
        if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && items.length) {
          e.preventDefault();
          (items[i] || items[0]).click();
          return;
        }
      }
      if (e.key === 'ArrowUp' && textarea.value === '' && dotnet) {
        e.preventDefault();
        dotnet.invokeMethodAsync('EditLast').catch(() => {});
        return;
      }
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        const button = document.getElementById(buttonId);
        if (button && !button.disabled) {
          // Let Blazor see the latest input value before the click.
          textarea.dispatchEvent(new Event('input', { bubbles: true }));
          setTimeout(() => button.click(), 0);
        }
      }
    });
    const handOver = files => {
      const image = [...(files || [])].find(f => /^image\//.test(f.type) || /\.(png|jpe?g|gif|webp)$/i.test(f.name));
      const input = document.getElementById(fileInputId);
      if (!image || !input) return false;
      const dt = new DataTransfer();
      dt.items.add(image);
      input.files = dt.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
      return true;
    };
    textarea.addEventListener('paste', e => {
      const files = e.clipboardData && e.clipboardData.files;
      if (files && files.length && handOver(files)) e.preventDefault();
    });
    const zone = textarea.closest('.chat-main') || textarea;
    zone.addEventListener('dragover', e => {
      if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) {
        e.preventDefault();
        zone.classList.add('drop-target');
      }
    });
    zone.addEventListener('dragleave', e => { if (e.target === zone) zone.classList.remove('drop-target'); });
    zone.addEventListener('drop', e => {
      zone.classList.remove('drop-target');
      if (e.dataTransfer && e.dataTransfer.files.length) {
        e.preventDefault();
        handOver(e.dataTransfer.files);
      }
    });
  },

  caret(textarea) {
    return textarea && typeof textarea.selectionStart === 'number' ? textarea.selectionStart : -1;
  },

  // Focus and put the caret at pos, unless the text is no longer the one the server rendered (the user typed on).
  focusAt(textarea, pos, expected) {
    if (!textarea) return;
    if (typeof expected === 'string' && textarea.value !== expected) return;
    textarea.focus();
    try { textarea.setSelectionRange(pos, pos); } catch { /* not a text field */ }
  },

  // Keeps the list pinned to the bottom while the reader is there, keeps the reading position
  // when older messages are put on top, and asks for older ones while the top is in view.
  bindScroller(scroller, sentinel, dotnet) {
    if (!scroller || scroller._chatBound) return;
    scroller._chatBound = true;
    scroller._stick = true;
    scroller._fromBottom = 0;
    let busy = false;
    const topInView = () => sentinel && scroller.scrollHeight > scroller.clientHeight
      && sentinel.getBoundingClientRect().bottom >= scroller.getBoundingClientRect().top;
    // One request at a time; when a page lands and the top is still in view (a fast scroll,
    // a short page), ask again, until the server says there is nothing older.
    const loadOlder = async () => {
      if (busy || scroller._pinned || !scroller._armed || !topInView()) return;
      busy = true;
      let more = false;
      try { more = await dotnet.invokeMethodAsync('OnScrolledToTop'); } catch { /* circuit gone */ }
      finally { busy = false; }
      if (more) requestAnimationFrame(loadOlder);
    };
    scroller.addEventListener('scroll', () => {
      scroller._fromBottom = scroller.scrollHeight - scroller.scrollTop;
      scroller._stick = scroller._fromBottom - scroller.clientHeight < 60;
      if (scroller.scrollTop < 80) loadOlder();
    }, { passive: true });
    new MutationObserver(() => {
      if (scroller._pinned) return;
      if (scroller._stick) scroller.scrollTop = scroller.scrollHeight;
      else if (scroller.scrollTop < 50) scroller.scrollTop = scroller.scrollHeight - scroller._fromBottom;
    }).observe(scroller, { childList: true, subtree: true });
    if (sentinel && 'IntersectionObserver' in window) {
      new IntersectionObserver(entries => { if (entries.some(e => e.isIntersecting)) loadOlder(); },
        { root: scroller }).observe(sentinel);
    }
  },

  scrollToBottom(scroller) {
    if (!scroller) return;
    scroller._pinned = false;
    scroller.scrollTop = scroller.scrollHeight;
    scroller._stick = true;
    scroller._armed = true; // no paging before the first page is shown at the bottom
  },

  // Brings one message into view (search result, first unread) and stops auto-scrolling for a moment.
  scrollToMessage(scroller, id) {
    if (!scroller) return false;
    const el = scroller.querySelector(`[data-id="${Number(id)}"]`);
    if (!el) return false;
    scroller._pinned = true;
    scroller._stick = false;
    el.scrollIntoView({ block: 'center' });
    setTimeout(() => {
      scroller._pinned = false;
      scroller._armed = true; // paging up works from a message opened in the middle too
      scroller._fromBottom = scroller.scrollHeight - scroller.scrollTop;
    }, 800);
    return true;
  },

  // Opt-in mention alerts: a short tone and, when the tab is hidden, a desktop notification.
  notifyEnabled() {
    return localStorage.getItem('chatportal.notify') === '1';
  },

  async setNotify(on) {
    if (on && 'Notification' in window && Notification.permission === 'default') {
      try { await Notification.requestPermission(); } catch { /* ignored: the tone still works */ }
    }
    localStorage.setItem('chatportal.notify', on ? '1' : '0');
    return on;
  },

  alertMention(title, body, url, inView) {
    // Nothing to announce when the reader is looking at that conversation right now.
    if (!chatPortal.notifyEnabled() || (inView && !document.hidden)) return false;
    if (localStorage.getItem('chatportal.sound') !== '0') try {
      const ctx = chatPortal._audio || (chatPortal._audio = new (window.AudioContext || window.webkitAudioContext)());
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch { /* no audio: fine */ }
    if (document.hidden && 'Notification' in window && Notification.permission === 'granted') {
      const n = new Notification(String(title), { body: String(body), tag: 'chatportal-mention' });
      n.onclick = () => { window.focus(); if (url) location.href = url; n.close(); };
    }
    return true;
  },

  // Notification settings (issue 17): the sound switch, the device's time zone, Web Push.
  // The account pages call this once their circuit is up (tests wait for it before clicking).
  markCircuitUp() {
    window.chatPortalCircuitUp = true;
  },

  setSound(on) {
    localStorage.setItem('chatportal.sound', on ? '1' : '0');
  },

  timeZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch { return null; }
  },

  async pushSubscribe(publicKey) {
    if (!('serviceWorker' in navigator) || !('PushManager' in window)) return 'unsupported';
    if (Notification.permission === 'default') await Notification.requestPermission();
    if (Notification.permission !== 'granted') return 'denied';
    try {
      const reg = await navigator.serviceWorker.register('/push-sw.js', { scope: '/' });
      await navigator.serviceWorker.ready;
      const raw = atob(publicKey.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - publicKey.length % 4) % 4));
      const key = Uint8Array.from(raw, c => c.charCodeAt(0));
      let sub = await reg.pushManager.getSubscription();
      if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
      const r = await fetch('/api/push/subscriptions', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-ChatPortal': '1' },
        body: JSON.stringify(sub.toJSON()),
      });
      return r.ok ? 'ok' : 'failed';
    } catch { return 'failed'; }
  },

  async pushUnsubscribe() {
    try {
      const reg = 'serviceWorker' in navigator ? await navigator.serviceWorker.getRegistration('/') : null;
      const sub = reg ? await reg.pushManager.getSubscription() : null;
      if (!sub) return 'none';
      await fetch('/api/push/subscriptions/delete', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-ChatPortal': '1' },
        body: JSON.stringify({ endpoint: sub.endpoint }),
      });
      await sub.unsubscribe();
      return 'ok';
    } catch { return 'failed'; }
  },

  // Whether someone can be looking at this page: visible and focused. A background tab, a
  // minimized window or another focused window does not read messages; the view only marks
  // read while this is true, and hears of every change.
  watchAttention(key, dotnet) {
    const active = () => document.visibilityState === 'visible' && document.hasFocus();
    let a = chatPortal._attention;
    if (!a) {
      a = chatPortal._attention = { views: new Map(), last: active() };
      const report = () => {
        const now = active();
        if (now === a.last) return;
        a.last = now;
        for (const view of a.views.values()) view.invokeMethodAsync('OnAttention', now).catch(() => { /* circuit gone */ });
      };
      const settle = () => setTimeout(report, 0); // focus moves after blur: look once it settled
      document.addEventListener('visibilitychange', settle);
      window.addEventListener('focus', settle);
      window.addEventListener('blur', settle);
    }
    a.views.set(key, dotnet);
    a.last = active();
    return a.last;
  },

  unwatchAttention(key) {
    if (chatPortal._attention) chatPortal._attention.views.delete(key);
  },

  // Theme choice in a cookie, so the server renders the right palette first (no flash).
  setTheme(dark) {
    document.cookie = `chatportal.theme=${dark ? 'dark' : 'light'}; path=/; max-age=31536000; samesite=lax`;
  },
};

// The time zone in a cookie too, so a prerendered page already shows the reader's times.
try {
  const tz = chatPortal.timeZone();
  if (tz) document.cookie = `chatportal.tz=${encodeURIComponent(tz)}; path=/; max-age=31536000; samesite=lax`;
} catch { /* no cookies: the live page still asks */ }
