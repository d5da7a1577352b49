// The bank's check of a practice invoice's payment (3-D Secure): Stripe.js confirms the invoice's
// PaymentIntent with the practice's default card and runs the challenge, then the page posts back
// so the server reads the invoice from Stripe and shows it paid (or says what went wrong).
(function () {
  const box = document.getElementById("bank-check");
  const form = document.getElementById("bank-check-done");
  if (!box || !form) return;
  const start = document.getElementById("bank-check-start");
  const status = document.getElementById("bank-check-status");
  const errors = document.getElementById("bank-check-errors");
  status.textContent = "Opening your bank's check…";
  window.whenStripeLoads(Number(box.dataset.stripeTimeoutMs), () => {
    const stripe = Stripe(box.dataset.publishableKey, { locale: box.dataset.stripeLocale || "auto" });
    const run = () => runBankCheck(stripe, box, form, { start, status, errors });
    start.hidden = false;
    start.addEventListener("click", run);
    if (box.dataset.autostart === "true") {
      run();
    } else {
      status.textContent = "Press “Confirm with my bank” to try again.";
    }
  }, () => {
    status.textContent = "";
    errors.textContent = "Your bank's check is unavailable right now. Try again later; nothing was charged.";
  });
})();

function runBankCheck(stripe, box, form, ui) {
  ui.start.disabled = true;
  ui.errors.textContent = "";
  ui.status.textContent = "Waiting for your bank…";
  stripe.confirmCardPayment(box.dataset.clientSecret, { payment_method: box.dataset.paymentMethod }).then((result) => {
    if (result.error) {
      ui.status.textContent = "Your bank did not confirm the payment. Checking it…";
    } else {
      ui.status.textContent = "Confirmed. Finishing the payment…";
    }
    form.submit();  // the server reads the invoice either way, and says what happened
  }).catch((error) => {
    ui.start.disabled = false;
    ui.status.textContent = "";
    ui.errors.textContent = (error && error.message) || "The check could not start. Try again.";
  });
}
