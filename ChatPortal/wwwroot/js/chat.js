// Small DOM helpers for the chat view. No user text is ever written as HTML here.
window.chatPortal = {
  // Enter sends, Shift+Enter makes a new line; never while an IME (e.g. Chinese input) is composing.
  bindComposer(textarea, buttonId) {
    if (!textarea || textarea._chatBound) return;
    textarea._chatBound = true;
    window.chatPortalReady = true; // tests wait for the live circuit through this
    textarea.addEventListener('keydown', e => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        const button = document.getElementById(buttonId);
        if (button && !button.disabled) {
          // Let Blazor see the latest input value before the click.
          textarea.dispatchEvent(new Event('input', { bubbles: true }));
          setTimeout(() => button.click(), 0);
        }
      }
    });
  },

  // Keeps the list pinned to the bottom while the reader is there, keeps the reading position
  // when older messages are put on top, and asks for older ones when the top comes into view.
  bindScroller(scroller, sentinel, dotnet) {
    if (!scroller || scroller._chatBound) return;
    scroller._chatBound = true;
    scroller._stick = true;
    scroller._fromBottom = 0;
    scroller.addEventListener('scroll', () => {
      scroller._fromBottom = scroller.scrollHeight - scroller.scrollTop;
      scroller._stick = scroller._fromBottom - scroller.clientHeight < 60;
    }, { passive: true });
    new MutationObserver(() => {
      if (scroller._stick) scroller.scrollTop = scroller.scrollHeight;
      else if (scroller.scrollTop < 50) scroller.scrollTop = scroller.scrollHeight - scroller._fromBottom;
    }).observe(scroller, { childList: true, subtree: true });
    if (sentinel && 'IntersectionObserver' in window) {
      let busy = false;
      new IntersectionObserver(async entries => {
        if (busy || !entries.some(e => e.isIntersecting) || scroller.scrollHeight <= scroller.clientHeight) return;
        busy = true;
        try { await dotnet.invokeMethodAsync('OnScrolledToTop'); } catch { /* circuit gone */ }
        finally { setTimeout(() => busy = false, 300); }
      }, { root: scroller, threshold: 0.1 }).observe(sentinel);
    }
  },

  scrollToBottom(scroller) {
    if (!scroller) return;
    scroller.scrollTop = scroller.scrollHeight;
    scroller._stick = true;
  },
};
