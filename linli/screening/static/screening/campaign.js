// Campaign pages. htmx leaves 4xx answers unswapped; the target preview answers a bad filter
// with 400 and the error at the field, which must replace the counts, not leave stale ones.
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  if (event.detail.xhr.status === 400 && target && target.closest("[data-swap-errors]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
