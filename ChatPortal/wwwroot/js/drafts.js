// The composer's half-typed message, kept per user and room in the browser's localStorage, so a
// server restart, a lost connection or a reload loses nothing (issue 21). Saved on every keystroke
// here in the browser: typing while the server is away is kept too.
window.chatPortalDrafts = {
  // Binds the textarea to a draft key (it changes with the room) and returns the draft kept for it.
  bind(textarea, key) {
    if (!textarea) return null;
    textarea._draftKey = key;
    if (!textarea._draftBound) {
      textarea._draftBound = true;
      // The key the page shows now (data-draft-key changes in the same render as the room), so a key pressed right
      // after switching rooms, before bind() is called for the new one, does not land in the previous room's draft.
      textarea.addEventListener('input', () => chatPortalDrafts.set(textarea.dataset.draftKey || textarea._draftKey, textarea.value));
    }
    // Typed into already (the room changed and keys came before this call): what is there is this room's draft now,
    // and nothing kept may overwrite it.
    if (textarea.value) { chatPortalDrafts.set(key, textarea.value); return null; }
    return chatPortalDrafts.get(key);
  },

  get(key) {
    try { return localStorage.getItem(key); } catch { return null; } // storage off (private mode, policy)
  },

  set(key, text) {
    if (!key) return;
    try {
      if (text) localStorage.setItem(key, text);
      else localStorage.removeItem(key);
    } catch { /* full or off: the draft is only not kept */ }
  },
};
