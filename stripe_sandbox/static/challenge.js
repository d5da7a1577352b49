/* The 3-D Secure test page in the modal: the keyboard starts on its first button, and Escape
 * cancels the check (it fails, as closing Stripe's modal does), pressed here or, relayed by
 * stripe.js, on the page around the modal. */
(function () {
  var cancel = document.getElementById('challenge-cancel');
  var first = document.querySelector('.buttons button');
  function start() { if (first && (!document.activeElement || document.activeElement === document.body)) { first.focus(); } }
  start();
  window.addEventListener('focus', start);  /* the modal gives this frame the focus once it is loaded */
  function fail() { if (cancel && !cancel.dataset.sent) { cancel.dataset.sent = '1'; cancel.submit(); } }
  document.addEventListener('keydown', function (event) { if (event.key === 'Escape') { fail(); } });
  window.addEventListener('message', function (event) {
    if (event.data && event.data.target === 'sandbox-challenge' && event.data.type === 'cancel') { fail(); }
  });
})();
