// Small progressive enhancements; every page works without this file.
document.addEventListener("submit", (event) => {
  // Plain (non-htmx) forms that ask for confirmation; htmx forms use hx-confirm.
  const form = event.target;
  if (form.dataset.confirm && !form.hasAttribute("hx-post") && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
