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
      if (busy || !scroller._armed || !topInView()) return;
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
    scroller.scrollTop = scroller.scrollHeight;
    scroller._stick = true;
    scroller._armed = true; // no paging before the first page is shown at the bottom
  },
};
