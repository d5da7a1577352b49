/* The card element's iframe: the card number lives only here, on the sandbox's origin.
 * The host page's Stripe.js asks this frame to create a PaymentMethod and gets back its id,
 * as with real Stripe (the host page never sees the number). */
(function () {
  'use strict';
  var params = new URLSearchParams(window.location.search);
  var elementId = params.get('id');
  var key = params.get('key');
  var number = document.getElementById('number');
  var expiry = document.getElementById('expiry');
  var cvc = document.getElementById('cvc');
  /* The frame's language (Stripe({locale}) of the host page): its messages, from the page's table. */
  var said = JSON.parse(document.body.getAttribute('data-messages') || '{}');

  function digits(value) { return (value || '').replace(/\D/g, ''); }

  function luhn(num) {
    var sum = 0;
    for (var i = 0; i < num.length; i++) {
      var d = parseInt(num.charAt(num.length - 1 - i), 10);
      if (i % 2 === 1) { d *= 2; if (d > 9) { d -= 9; } }
      sum += d;
    }
    return num.length >= 12 && sum % 10 === 0;
  }

  function brand(num) {
    if (/^4/.test(num)) { return 'visa'; }
    if (/^(5[1-5]|2[2-7])/.test(num)) { return 'mastercard'; }
    if (/^3[47]/.test(num)) { return 'amex'; }
    if (/^(6011|65)/.test(num)) { return 'discover'; }
    return 'unknown';
  }

  function parseExpiry() {
    var d = digits(expiry.value);
    if (d.length < 4) { return null; }
    var month = parseInt(d.slice(0, 2), 10);
    var year = parseInt(d.slice(2), 10);
    if (year < 100) { year += 2000; }
    return { month: month, year: year };
  }

  function validate() {
    var num = digits(number.value);
    var exp = parseExpiry();
    var c = digits(cvc.value);
    var error = null;
    var now = new Date();
    if (num.length >= 12 && !luhn(num)) {
      error = { type: 'validation_error', code: 'invalid_number', message: 'Your card number is invalid.' };
    } else if (exp && (exp.month < 1 || exp.month > 12)) {
      error = { type: 'validation_error', code: 'invalid_expiry_month',
                message: "Your card's expiration date is incomplete." };
    } else if (exp && (exp.year < now.getFullYear() ||
               (exp.year === now.getFullYear() && exp.month < now.getMonth() + 1))) {
      error = { type: 'validation_error', code: 'invalid_expiry_year_past',
                message: "Your card's expiration year is in the past." };
    }
    number.classList.toggle('invalid', !!error && error.code === 'invalid_number');
    var complete = !error && luhn(num) && !!exp && c.length >= 3;
    return {
      elementType: 'card', complete: complete, empty: !num && !expiry.value && !c,
      brand: brand(num), error: error || undefined, value: { postalCode: '' }
    };
  }

  function incompleteError() {
    var num = digits(number.value);
    if (!luhn(num)) {
      return { type: 'validation_error', code: 'incomplete_number', message: 'Your card number is incomplete.' };
    }
    if (!parseExpiry()) {
      return { type: 'validation_error', code: 'incomplete_expiry',
               message: "Your card's expiration date is incomplete." };
    }
    return { type: 'validation_error', code: 'incomplete_cvc', message: "Your card's security code is incomplete." };
  }

  function send(message) {
    if (message.error && message.error.message) {
      message.error.message = said[message.error.message] || message.error.message;
    }
    message.source = 'sandbox-card';
    message.id = elementId;
    window.parent.postMessage(message, '*');
  }

  /* As Stripe's element: the number in groups (4-6-5 for Amex, else 4-4-4-4), no more digits than
   * its brand has, and the cursor moves on to the expiry, then the CVC, once a field is complete. */
  function maxDigits(num) { return brand(num) === 'amex' ? 15 : 16; }

  function grouped(num) {
    var sizes = brand(num) === 'amex' ? [4, 6, 5] : [4, 4, 4, 4];
    var parts = [];
    var at = 0;
    sizes.forEach(function (size) {
      if (at < num.length) { parts.push(num.slice(at, at + size)); }
      at += size;
    });
    return parts.join(' ');
  }

  function onInput() {
    if (this === number) {
      var n = digits(number.value);
      n = n.slice(0, maxDigits(n));
      number.value = grouped(n);
      if (n.length === maxDigits(n) && luhn(n)) { expiry.focus(); }
    }
    if (this === expiry) {
      var d = digits(expiry.value).slice(0, 4);
      expiry.value = d.length > 2 ? d.slice(0, 2) + ' / ' + d.slice(2) : d;
      if (d.length === 4) { cvc.focus(); }
    }
    if (this === cvc) {
      cvc.value = digits(cvc.value).slice(0, brand(digits(number.value)) === 'amex' ? 4 : 3);
    }
    var state = validate();
    state.type = 'change';
    send(state);
  }

  [number, expiry, cvc].forEach(function (input) {
    input.addEventListener('input', onInput);
    input.addEventListener('focus', function () { send({ type: 'focus' }); });
    input.addEventListener('blur', function () { send({ type: 'blur' }); });
  });

  function encode(obj, prefix, out) {
    Object.keys(obj).forEach(function (k) {
      var v = obj[k];
      var name = prefix ? prefix + '[' + k + ']' : k;
      if (v === undefined || v === null) { return; }
      if (typeof v === 'object') { encode(v, name, out); } else { out.push(encodeURIComponent(name) + '=' + encodeURIComponent(v)); }
    });
    return out;
  }

  function createPaymentMethod(requestId, billingDetails) {
    var state = validate();
    if (!state.complete) {
      send({ type: 'result', requestId: requestId, error: state.error || incompleteError() });
      return;
    }
    var exp = parseExpiry();
    var body = encode({
      type: 'card',
      card: { number: digits(number.value), exp_month: exp.month, exp_year: exp.year, cvc: digits(cvc.value) },
      billing_details: billingDetails || {}
    }, '', []).join('&');
    fetch('/v1/payment_methods', {
      method: 'POST',
      headers: { 'Authorization': 'Bearer ' + key, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: body
    }).then(function (response) {
      return response.json();
    }).then(function (json) {
      if (json.error) { send({ type: 'result', requestId: requestId, error: json.error }); } else {
        send({ type: 'result', requestId: requestId, paymentMethod: json });
      }
    }).catch(function () {
      send({ type: 'result', requestId: requestId,
             error: { type: 'api_connection_error', message: 'Could not reach the payment server.' } });
    });
  }

  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || !event.data || event.data.target !== 'sandbox-card') { return; }
    var data = event.data;
    if (data.type === 'createPaymentMethod') { createPaymentMethod(data.requestId, data.billingDetails); }
    if (data.type === 'clear') { number.value = ''; expiry.value = ''; cvc.value = ''; onInput.call(number); }
    if (data.type === 'focus') { number.focus(); }
    if (data.type === 'blur') { document.activeElement && document.activeElement.blur(); }
  });

  send({ type: 'ready' });
})();
