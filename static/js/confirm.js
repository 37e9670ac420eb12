// Forms marked data-confirm ask before a destructive or far-reaching post (promote, roll back,
// cancel); the question is plain text from the attribute, never HTML.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
}, true);
