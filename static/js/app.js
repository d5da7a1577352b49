// Small progressive enhancements; every page works without this file.
document.documentElement.classList.add("js");  // .js-only: what only makes sense with scripts
document.addEventListener("submit", (event) => {
  // Plain (non-htmx) forms that ask for confirmation; htmx forms use hx-confirm.
  const form = event.target;
  if (form.dataset.confirm && !form.hasAttribute("hx-post") && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// The main navigation folds behind a "Menu" button on a narrow screen.
(function () {
  const toggle = document.querySelector(".menu-toggle");
  const nav = document.getElementById("main-nav");
  if (!toggle || !nav) return;
  document.documentElement.classList.add("has-menu");
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("open")) {
      nav.classList.remove("open");
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
})();

// A banner's explanation is open on a wide screen and one tap away on a phone.
const wide = window.matchMedia("(min-width: 760px)");
function openBanners(root) {
  if (!wide.matches) return;
  (root || document).querySelectorAll("details.banner-text").forEach((details) => { details.open = true; });
}
openBanners();

// A new action starts: the last action's success and error messages go, so none is read as its answer.
document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.target.closest("form");
  if (!form || (event.detail.requestConfig && event.detail.requestConfig.verb === "get")) return;
  document.querySelectorAll("#flashes .flash, .card .flash").forEach((message) => message.remove());
});

// What a swap says (its success or error message) is read out by screen readers.
document.addEventListener("htmx:afterSettle", (event) => {
  openBanners(document.getElementById("banners"));
  const announcer = document.getElementById("announcer");
  // An outerHTML swap replaced the target: read the element that now stands in its place.
  let target = event.detail.target;
  if (target && !target.isConnected && target.id) target = document.getElementById(target.id);
  if (!target || !target.querySelector) return;
  // The button pressed was swapped out with its section: keep the keyboard's place in that section.
  if (document.activeElement === document.body || !document.activeElement) {
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }
  if (!announcer) return;
  const message = target.matches(".flash") ? target : target.querySelector(".flash, .errors li");
  if (message && message.textContent.trim()) {
    announcer.textContent = "";
    window.setTimeout(() => { announcer.textContent = message.textContent.trim(); }, 50);
  }
});
