// Blazor's JS initializer for this app (blazor.web.js loads it by its name).
//
// The room view has one handler for the buttons of all its message rows (RowActionEventArgs.cs): a click on an element
// with data-act inside a row (data-id) becomes a "rowaction" event with the action, the message id and data-arg; it
// bubbles to the list's @onrowaction.
export function afterWebStarted(blazor) {
  blazor.registerCustomEventType('rowaction', { createEventArgs: e => e.detail });
  document.addEventListener('click', e => {
    const button = e.target instanceof Element ? e.target.closest('[data-act]') : null;
    if (!button || button.disabled) return;
    const row = button.closest('[data-id]');
    if (!row) return;
    button.dispatchEvent(new CustomEvent('rowaction', {
      bubbles: true,
      detail: { action: button.dataset.act, id: Number(row.dataset.id), arg: button.dataset.arg ?? null },
    }));
  });
}
