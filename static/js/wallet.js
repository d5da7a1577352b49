// The "Add card" form: a Stripe.js card element and a SetupIntent confirmed in the
// browser, so 3-D Secure works and the card number never reaches our server.
(function () {
  const form = document.getElementById("add-card-form");
  if (!form) return;
  window.whenStripeLoads(Number(form.dataset.stripeTimeoutMs), () => startCardForm(form), () => {
    const state = document.getElementById("card-element-state");
    if (state) state.textContent = form.dataset.wordsUnavailable || "Card form unavailable, try later.";
  });
})();

function startCardForm(form) {
  const stripe = Stripe(form.dataset.publishableKey, { locale: form.dataset.stripeLocale || "auto" });
  const card = stripe.elements().create("card");
  const errors = document.getElementById("card-errors");
  const submit = document.getElementById("add-card-submit");
  const mountPoint = document.getElementById("card-element");
  mountPoint.textContent = "";
  card.mount(mountPoint);
  submit.hidden = false;
  card.on("change", (event) => { errors.textContent = event.error ? event.error.message : ""; });

  function csrfToken() {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  async function createSetupIntent() {
    const response = await fetch(form.dataset.setupUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(body.error || form.dataset.wordsSetupFailed || "We could not start saving your card. Try again.");
    }
    return body.clientSecret;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    errors.textContent = "";
    window.clearMessages();  // a new action: "Card saved." is not the answer to this one
    try {
      const clientSecret = await createSetupIntent();
      const result = await stripe.confirmCardSetup(clientSecret, { payment_method: { card: card } });
      if (result.error) {
        errors.textContent = result.error.message;  // the form and what was typed stay
        return;
      }
      await htmx.ajax("POST", form.dataset.completeUrl, {
        target: form.dataset.target,
        swap: "outerHTML",
        values: { setup_intent: result.setupIntent.id },
      });
      card.clear && card.clear();
    } catch (error) {
      errors.textContent = error.message;
    } finally {
      submit.disabled = false;
      // Disabling the pressed button dropped the keyboard's place (and the 3-D Secure modal took
      // it meanwhile): give it back to the button, unless the person moved on.
      if (!document.activeElement || document.activeElement === document.body) submit.focus();
    }
  });
}
