// The bank's check for a purchase (3-D Secure): Stripe.js confirms the PaymentIntent in the
// browser, then the page posts back so the server reads the result and settles the order.
(function () {
  const box = document.getElementById("authenticate");
  const form = document.getElementById("confirm-form");
  if (!box || !form) return;
  const status = document.getElementById("authenticate-status");
  const errors = document.getElementById("authenticate-errors");
  window.whenStripeLoads(Number(box.dataset.stripeTimeoutMs), () => startBankCheck(box, form, status, errors), () => {
    errors.textContent = box.dataset.wordsUnavailable || "Your bank's check is unavailable right now. Try later, or use the button below.";
  });
})();

function startBankCheck(box, form, status, errors) {
  const stripe = Stripe(box.dataset.publishableKey, { locale: box.dataset.stripeLocale || "auto" });

  stripe.confirmCardPayment(box.dataset.clientSecret).then((result) => {
    if (result.error) {
      errors.textContent = result.error.message;
      status.textContent = box.dataset.wordsChecking || "Checking your payment…";
    } else {
      status.textContent = box.dataset.wordsConfirmed || "Confirmed. Finishing your order…";
    }
    form.submit();  // the server reads the PaymentIntent either way
  }).catch((error) => {
    errors.textContent = error.message || box.dataset.wordsNoStart || "The check could not start. Use the button below.";
  });
}
