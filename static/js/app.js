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

// A new action starts: the last action's success and error messages go (and the screen reader's
// copy of them), so none is read as its answer. The card form (wallet.js) calls this too.
window.clearMessages = function () {
  document.querySelectorAll("#flashes .flash, .card .flash").forEach((message) => message.remove());
  const announcer = document.getElementById("announcer");
  if (announcer) announcer.textContent = "";
};
document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.target.closest("form");
  if (!form || (event.detail.requestConfig && event.detail.requestConfig.verb === "get")) return;
  window.clearMessages();
});

// An htmx answer that is not swapped (an error status) or never came (the network) would leave the
// page silent: say it in the page's messages, read out, and leave the form and what was typed as is.
// The server's own refusals (CSRF, signed out, 404, 409...) arrive as 200 into #flashes (portal/htmx.py);
// this is for what gets past them (a proxy's 502, a crash before the app answered, no connection).
function showError(text) {
  const flashes = document.getElementById("flashes");
  if (!flashes) return;
  const message = document.createElement("div");
  message.className = "flash flash-error";
  message.setAttribute("role", "alert");
  message.textContent = text;
  flashes.replaceChildren(message);
  const announcer = document.getElementById("announcer");
  if (announcer) {
    announcer.textContent = "";
    window.setTimeout(() => { announcer.textContent = text; }, 50);
  }
}
// Their words in the page's language: base.html puts them on #flashes (data-words), English here
// the fallback; "{status}" stands for the HTTP status.
const WORDS = (function () {
  try { return JSON.parse(document.getElementById("flashes").dataset.words || "{}"); } catch (error) { return {}; }
})();
function words(key, english, status) {
  return (WORDS[key] || english).replace("{status}", String(status));
}
const KEPT = words("kept", "What you typed is kept; try again.");
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  const what = status === 429 ? words("tooMany", "Too many tries in a short time. Wait a minute, then try again.")
    : status >= 500 ? `${words("serverError", "Something went wrong on our side (error {status}).", status)} ${KEPT}`
    : `${words("failed", "That did not work (error {status}). Reload the page if it happens again.", status)} ${KEPT}`;
  showError(what);
});
document.addEventListener("htmx:sendError", () => {
  showError(`${words("unreachable", "We could not reach the portal. Check your connection.")} ${KEPT}`);
});
document.addEventListener("htmx:timeout", () => {
  showError(`${words("timeout", "The portal took too long to answer.")} ${KEPT}`);
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

// Stripe.js is loaded with async (a hung Stripe never stops the page drawing): call ``ready`` with
// it once it is there, or ``unavailable`` if it failed or did not come within ``timeoutMs``.
window.whenStripeLoads = function (timeoutMs, ready, unavailable) {
  if (typeof Stripe !== "undefined") { ready(); return; }
  const script = document.querySelector("script[data-stripe-js]");
  let settled = false;
  const settle = (loaded) => {
    if (settled) return;
    settled = true;
    (loaded && typeof Stripe !== "undefined" ? ready : unavailable)();
  };
  if (!script) { settle(false); return; }
  script.addEventListener("load", () => settle(true));
  script.addEventListener("error", () => settle(false));
  window.setTimeout(() => settle(typeof Stripe !== "undefined"), timeoutMs || 15000);
};

// The billing details' tax ID type follows the address's country (a German address: EU VAT), as
// the server's default does, until a tax ID is typed or a type chosen by hand.
document.addEventListener("change", (event) => {
  const select = event.target;
  const form = select.form;
  if (!form || !form.dataset.taxIdTypes) return;
  if (select.name === "tax_id_type") { select.dataset.chosen = "true"; return; }
  if (select.name !== "address_country") return;
  const type = form.elements.tax_id_type;
  const value = form.elements.tax_id_value;
  if (!type || type.dataset.chosen || (value && value.value.trim())) return;
  type.value = JSON.parse(form.dataset.taxIdTypes)[select.value] || "";
});

// A text area with a most length (data-counts) shows how much is typed in its hint; the server
// refuses a longer text with a message and keeps it as typed (the browser would cut it silently).
function countTyped(area) {
  const shown = document.querySelector(`[data-count-of="${area.id}"]`);
  if (!shown) return;
  const most = Number(area.dataset.counts);
  const typed = area.value.length;
  shown.textContent = typed > most ? `; ${typed} typed, ${typed - most} too many` : `; ${typed} typed`;
  shown.classList.toggle("errors", typed > most);
}
document.addEventListener("input", (event) => {
  if (event.target.matches && event.target.matches("textarea[data-counts]")) countTyped(event.target);
});
document.querySelectorAll("textarea[data-counts]").forEach(countTyped);
