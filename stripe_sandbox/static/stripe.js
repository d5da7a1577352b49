/* Stripe.js stand-in served by the Stripe sandbox (the subset the portal uses).
 *
 * Same API and promise shapes as https://js.stripe.com/v3/: Stripe(pk), elements().create('card'),
 * confirmCardSetup, confirmSetup, confirmCardPayment, confirmPayment, createPaymentMethod,
 * handleCardAction/handleNextAction, retrieveSetupIntent/retrievePaymentIntent.
 * No eval, no inline handlers, no inline <style>: it runs under a strict CSP.
 */
(function () {
  'use strict';
  if (window.Stripe && window.Stripe.__sandbox) { return; }

  var scriptSrc = (document.currentScript && document.currentScript.src) || '';
  var ORIGIN = scriptSrc ? new URL(scriptSrc).origin : window.location.origin;
  var counter = 0;

  function uid(prefix) { counter += 1; return prefix + '-' + Date.now().toString(36) + '-' + counter; }

  function encode(obj, prefix, out) {
    Object.keys(obj).forEach(function (k) {
      var v = obj[k];
      var name = prefix ? prefix + '[' + k + ']' : k;
      if (v === undefined || v === null) { return; }
      if (Array.isArray(v)) {
        v.forEach(function (item, i) {
          if (typeof item === 'object') { encode(item, name + '[' + i + ']', out); } else {
            out.push(encodeURIComponent(name + '[' + i + ']') + '=' + encodeURIComponent(item));
          }
        });
      } else if (typeof v === 'object') { encode(v, name, out); } else {
        out.push(encodeURIComponent(name) + '=' + encodeURIComponent(v));
      }
    });
    return out;
  }

  function intentId(clientSecret) { return String(clientSecret || '').split('_secret_')[0]; }

  function connectionError() {
    return { error: { type: 'api_connection_error', message: 'Could not reach the payment server. Try again.' } };
  }

  /* ---------------- the card element ---------------- */

  function CardElement(stripe, type, options) {
    this._stripe = stripe;
    this._type = type;
    this._options = options || {};
    this._id = uid('card');
    this._handlers = {};
    this._iframe = null;
    this._pending = {};
    this._state = { complete: false, empty: true };
    var self = this;
    this._listener = function (event) {
      if (event.origin !== ORIGIN || !self._iframe || event.source !== self._iframe.contentWindow) { return; }
      var data = event.data || {};
      if (data.source !== 'sandbox-card' || data.id !== self._id) { return; }
      if (data.type === 'result') {
        var resolve = self._pending[data.requestId];
        delete self._pending[data.requestId];
        if (resolve) { resolve(data); }
        return;
      }
      if (data.type === 'change') {
        self._state = data;
        self._emit('change', {
          elementType: 'card', complete: data.complete, empty: data.empty, brand: data.brand,
          error: data.error, value: data.value
        });
        return;
      }
      self._emit(data.type, { elementType: 'card' });
    };
  }

  CardElement.prototype._emit = function (name, payload) {
    (this._handlers[name] || []).slice().forEach(function (cb) { cb(payload); });
  };

  CardElement.prototype.on = function (name, cb) {
    (this._handlers[name] = this._handlers[name] || []).push(cb);
    return this;
  };
  CardElement.prototype.addEventListener = CardElement.prototype.on;

  CardElement.prototype.off = function (name, cb) {
    if (!cb) { delete this._handlers[name]; return this; }
    this._handlers[name] = (this._handlers[name] || []).filter(function (h) { return h !== cb; });
    return this;
  };

  CardElement.prototype.mount = function (target) {
    var container = typeof target === 'string' ? document.querySelector(target) : target;
    if (!container) { throw new Error('Stripe sandbox: mount target not found: ' + target); }
    if (this._iframe) { this.unmount(); }
    var iframe = document.createElement('iframe');
    var locale = this._stripe._options.locale;
    iframe.src = ORIGIN + '/v3/elements/card?id=' + encodeURIComponent(this._id) +
      '&key=' + encodeURIComponent(this._stripe._key) +
      (locale && locale !== 'auto' ? '&locale=' + encodeURIComponent(locale) : '');
    iframe.title = 'Secure card payment input frame';
    iframe.name = '__privateStripeFrame' + this._id;
    iframe.setAttribute('frameborder', '0');
    iframe.setAttribute('allowtransparency', 'true');
    iframe.setAttribute('scrolling', 'no');
    iframe.style.border = '0';
    iframe.style.width = '100%';
    iframe.style.height = '52px';
    iframe.style.display = 'block';
    iframe.style.background = 'transparent';
    container.appendChild(iframe);
    this._iframe = iframe;
    this._container = container;
    window.addEventListener('message', this._listener);
  };

  CardElement.prototype.unmount = function () {
    window.removeEventListener('message', this._listener);
    if (this._iframe && this._iframe.parentNode) { this._iframe.parentNode.removeChild(this._iframe); }
    this._iframe = null;
  };

  CardElement.prototype.destroy = function () {
    this.unmount();
    this._handlers = {};
    if (this._group) { this._group._remove(this); }
  };

  CardElement.prototype._post = function (message) {
    if (this._iframe && this._iframe.contentWindow) {
      message.target = 'sandbox-card';
      this._iframe.contentWindow.postMessage(message, ORIGIN);
    }
  };

  CardElement.prototype.focus = function () { this._post({ type: 'focus' }); };
  CardElement.prototype.blur = function () { this._post({ type: 'blur' }); };
  CardElement.prototype.clear = function () { this._post({ type: 'clear' }); };
  CardElement.prototype.update = function (options) {
    for (var k in options) { if (Object.prototype.hasOwnProperty.call(options, k)) { this._options[k] = options[k]; } }
  };

  /* Ask the iframe to create the PaymentMethod: resolves {paymentMethod} or {error}. */
  CardElement.prototype._createPaymentMethod = function (billingDetails) {
    var self = this;
    if (!this._iframe) {
      return Promise.resolve({ error: { type: 'invalid_request_error', message: 'The card element is not mounted.' } });
    }
    var requestId = uid('req');
    return new Promise(function (resolve) {
      self._pending[requestId] = resolve;
      self._post({ type: 'createPaymentMethod', requestId: requestId, billingDetails: billingDetails || {} });
    }).then(function (data) {
      return data.error ? { error: data.error } : { paymentMethod: data.paymentMethod };
    });
  };

  function Elements(stripe, options) {
    this._stripe = stripe;
    this._options = options || {};
    this._elements = [];
  }

  Elements.prototype.create = function (type, options) {
    if (['card', 'payment'].indexOf(type) < 0) {
      throw new Error('Stripe sandbox: only the card element is available (asked for "' + type + '").');
    }
    var element = new CardElement(this._stripe, type, options);
    element._group = this;
    this._elements.push(element);
    return element;
  };

  Elements.prototype.getElement = function (type) {
    for (var i = 0; i < this._elements.length; i++) {
      if (this._elements[i]._type === type || type === 'card' || type === 'payment') { return this._elements[i]; }
    }
    return null;
  };

  Elements.prototype._remove = function (element) {
    this._elements = this._elements.filter(function (e) { return e !== element; });
  };

  Elements.prototype.submit = function () {
    var element = this._elements[0];
    if (element && !element._state.complete) {
      return Promise.resolve({ error: element._state.error ||
        { type: 'validation_error', code: 'incomplete', message: 'Your card details are incomplete.' } });
    }
    return Promise.resolve({});
  };

  Elements.prototype.update = function () {};
  Elements.prototype.fetchUpdates = function () { return Promise.resolve({}); };

  /* ---------------- Stripe ---------------- */

  function Stripe(key, options) {
    if (!(this instanceof Stripe)) { return new Stripe(key, options); }
    if (!key || typeof key !== 'string') { throw new Error('Stripe sandbox: a publishable key is required.'); }
    this._key = key;
    this._options = options || {};
  }
  Stripe.__sandbox = true;

  Stripe.prototype.elements = function (options) { return new Elements(this, options); };

  Stripe.prototype._api = function (method, path, params) {
    var body = encode(params || {}, '', []).join('&');
    var url = ORIGIN + path + (method === 'GET' && body ? '?' + body : '');
    var init = { method: method, headers: { 'Authorization': 'Bearer ' + this._key } };
    if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init.body = body;
    }
    var self = this;
    return fetch(url, init).then(function (response) {
      return response.json();
    }, function () { return connectionError(); }).then(function (json) { return self._said(json); });
  };

  /* An error's message in the locale Stripe.js was created with, as Stripe.js says a decline
   * ("Thẻ của bạn không đủ tiền."): the sandbox's table for that language, asked for once. */
  Stripe.prototype._said = function (json) {
    var locale = this._options.locale;
    if (!json || !json.error || !json.error.message || !locale || locale === 'auto') { return json; }
    if (!this._messages) {
      this._messages = fetch(ORIGIN + '/v3/messages?locale=' + encodeURIComponent(locale))
        .then(function (response) { return response.json(); })
        .catch(function () { return {}; });
    }
    return this._messages.then(function (messages) {
      json.error.message = messages[json.error.message] || json.error.message;
      return json;
    });
  };

  function elementOf(value) {
    if (value instanceof CardElement) { return value; }
    if (value && value.card instanceof CardElement) { return value.card; }
    if (value && value.elements instanceof Elements) { return value.elements.getElement('card'); }
    return null;
  }

  /* Resolve what the caller passed as payment_method into a PaymentMethod id (or an error). */
  Stripe.prototype._paymentMethodId = function (pm, billingDetails) {
    if (!pm) { return Promise.resolve({ id: null }); }
    if (typeof pm === 'string') { return Promise.resolve({ id: pm }); }
    var element = elementOf(pm);
    if (!element) {
      return Promise.resolve({ error: { type: 'invalid_request_error',
        message: 'payment_method must be a PaymentMethod id or {card: cardElement}.' } });
    }
    return element._createPaymentMethod((pm && pm.billing_details) || billingDetails).then(function (result) {
      return result.error ? { error: result.error } : { id: result.paymentMethod.id };
    });
  };

  Stripe.prototype.createPaymentMethod = function (a, b, c) {
    var params = typeof a === 'string' ? Object.assign({ type: a, card: b }, c || {}) : (a || {});
    var element = elementOf(params.card) || elementOf(params.elements ? { elements: params.elements } : null);
    if (!element) {
      return Promise.resolve({ error: { type: 'invalid_request_error', message: 'A card element is required.' } });
    }
    return element._createPaymentMethod(params.billing_details || (params.params && params.params.billing_details));
  };

  var KINDS = {
    setup: { path: '/v1/setup_intents/', key: 'setupIntent', errorKey: 'setup_intent', lastError: 'last_setup_error' },
    payment: { path: '/v1/payment_intents/', key: 'paymentIntent', errorKey: 'payment_intent',
               lastError: 'last_payment_error' }
  };

  Stripe.prototype._retrieve = function (kind, clientSecret) {
    return this._api('GET', KINDS[kind].path + intentId(clientSecret), { client_secret: clientSecret });
  };

  /* The 3-D Secure modal: an iframe of the sandbox's challenge page; resolves when the intent moves on. */
  Stripe.prototype._challenge = function (kind, intent, clientSecret) {
    var self = this;
    var action = intent.next_action || {};
    var url = (action.use_stripe_sdk && action.use_stripe_sdk.stripe_js) ||
      (action.redirect_to_url && action.redirect_to_url.url);
    /* The page's language when the payment's customer names none: Stripe({locale}) of the caller. */
    var locale = self._options.locale;
    if (url && locale && locale !== 'auto') {
      url += (url.indexOf('?') < 0 ? '?' : '&') + 'locale=' + encodeURIComponent(locale);
    }
    var overlay = document.createElement('div');
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-modal', 'true');
    overlay.setAttribute('aria-label', '3D Secure authentication');
    overlay.style.position = 'fixed';
    overlay.style.inset = '0';
    overlay.style.background = 'rgba(0,0,0,0.5)';
    overlay.style.zIndex = '2147483647';
    overlay.style.display = 'flex';
    overlay.style.alignItems = 'center';
    overlay.style.justifyContent = 'center';
    var frame = document.createElement('iframe');
    frame.src = url;
    frame.title = '3D Secure authentication';
    frame.name = 'stripe-challenge-frame';
    frame.style.width = '480px';
    frame.style.maxWidth = '95vw';
    frame.style.height = '420px';
    frame.style.border = '0';
    frame.style.borderRadius = '8px';
    frame.style.background = '#fff';
    overlay.appendChild(frame);
    /* A modal for the keyboard too: the page behind is inert while it is open (Tab stays in the
     * challenge), the challenge gets the focus, Escape cancels it (the challenge page fails it,
     * as closing Stripe's modal does), and the focus goes back where it was. */
    var returnFocus = document.activeElement;
    var inerted = [];
    Array.prototype.forEach.call(document.body.children, function (element) {
      if (!element.inert) { element.inert = true; inerted.push(element); }
    });
    document.body.appendChild(overlay);
    frame.addEventListener('load', function () { frame.focus(); });
    function close() {
      if (overlay.parentNode) { overlay.parentNode.removeChild(overlay); }
      inerted.forEach(function (element) { element.inert = false; });
      /* After the caller's own handling of the result (it may re-enable the button it disabled). */
      window.setTimeout(function () {
        if (returnFocus && returnFocus.isConnected && returnFocus.focus) { returnFocus.focus(); }
      }, 0);
    }
    function onKey(event) {  /* Escape pressed while the focus is on the overlay itself */
      if (event.key === 'Escape' && frame.contentWindow) { frame.contentWindow.postMessage({ target: 'sandbox-challenge', type: 'cancel' }, '*'); }
    }
    document.addEventListener('keydown', onKey);
    return new Promise(function (resolve) {
      function poll() {
        self._retrieve(kind, clientSecret).then(function (fresh) {
          if (fresh && !fresh.error && fresh.status === 'requires_action') {
            window.setTimeout(poll, 300);
            return;
          }
          document.removeEventListener('keydown', onKey);
          close();
          resolve(fresh);
        });
      }
      window.setTimeout(poll, 300);
    });
  };

  /* After a confirm: the {setupIntent}/{paymentIntent}/{error} result, running 3-D Secure if asked. */
  Stripe.prototype._settle = function (kind, response, clientSecret) {
    var spec = KINDS[kind];
    var self = this;
    if (!response) { return Promise.resolve(connectionError()); }
    if (response.error) {
      var error = response.error;
      var result = { error: error };
      if (error[spec.errorKey]) { result[spec.key] = error[spec.errorKey]; }
      return Promise.resolve(result);
    }
    if (response.status === 'requires_action') {
      return this._challenge(kind, response, clientSecret).then(function (fresh) {
        return self._settle(kind, fresh, clientSecret);
      });
    }
    if (response.status === 'requires_payment_method' && response[spec.lastError]) {
      var failed = { error: Object.assign({}, response[spec.lastError]) };
      failed.error[spec.errorKey] = response;
      failed[spec.key] = response;
      return Promise.resolve(failed);
    }
    var ok = {};
    ok[spec.key] = response;
    return Promise.resolve(ok);
  };

  Stripe.prototype._confirm = function (kind, clientSecret, data, redirectTo) {
    var self = this;
    data = data || {};
    return this._paymentMethodId(data.payment_method, data.billing_details).then(function (pm) {
      if (pm.error) { return { error: pm.error }; }
      var params = { client_secret: clientSecret };
      if (pm.id) { params.payment_method = pm.id; }
      if (data.return_url) { params.return_url = data.return_url; }
      if (data.setup_future_usage) { params.setup_future_usage = data.setup_future_usage; }
      return self._api('POST', KINDS[kind].path + intentId(clientSecret) + '/confirm', params)
        .then(function (response) { return self._settle(kind, response, clientSecret); })
        .then(function (result) {
          var intent = result[KINDS[kind].key];
          if (redirectTo && !result.error && intent && intent.status === 'succeeded') {
            var sep = redirectTo.indexOf('?') < 0 ? '?' : '&';
            window.location.assign(redirectTo + sep + KINDS[kind].errorKey + '=' + encodeURIComponent(intent.id) +
              '&' + KINDS[kind].errorKey + '_client_secret=' + encodeURIComponent(clientSecret) +
              '&redirect_status=succeeded');
          }
          return result;
        });
    });
  };

  Stripe.prototype.confirmCardSetup = function (clientSecret, data) {
    return this._confirm('setup', clientSecret, data);
  };

  Stripe.prototype.confirmCardPayment = function (clientSecret, data) {
    return this._confirm('payment', clientSecret, data);
  };

  function fromElementsOptions(options) {
    var confirm = options.confirmParams || {};
    var data = {
      payment_method: confirm.payment_method ||
        (options.elements ? { elements: options.elements,
          billing_details: (confirm.payment_method_data || {}).billing_details } : null),
      return_url: confirm.return_url
    };
    var redirect = options.redirect === 'if_required' ? null : confirm.return_url;
    return { data: data, redirect: redirect };
  }

  Stripe.prototype.confirmSetup = function (options) {
    var parsed = fromElementsOptions(options || {});
    return this._confirm('setup', options.clientSecret, parsed.data, parsed.redirect);
  };

  Stripe.prototype.confirmPayment = function (options) {
    var parsed = fromElementsOptions(options || {});
    return this._confirm('payment', options.clientSecret, parsed.data, parsed.redirect);
  };

  Stripe.prototype.handleCardAction = function (clientSecret) {
    var self = this;
    return this._retrieve('payment', clientSecret).then(function (intent) {
      return self._settle('payment', intent, clientSecret);
    });
  };

  Stripe.prototype.handleNextAction = function (options) {
    var self = this;
    var secret = options.clientSecret;
    var kind = secret.indexOf('seti_') === 0 ? 'setup' : 'payment';
    return this._retrieve(kind, secret).then(function (intent) { return self._settle(kind, intent, secret); });
  };

  Stripe.prototype.handleCardSetup = function (clientSecret, element, data) {
    return this.confirmCardSetup(clientSecret, Object.assign({ payment_method: { card: element } }, data || {}));
  };

  Stripe.prototype.retrieveSetupIntent = function (clientSecret) {
    return this._retrieve('setup', clientSecret).then(function (r) {
      return r.error ? { error: r.error } : { setupIntent: r };
    });
  };

  Stripe.prototype.retrievePaymentIntent = function (clientSecret) {
    return this._retrieve('payment', clientSecret).then(function (r) {
      return r.error ? { error: r.error } : { paymentIntent: r };
    });
  };

  Stripe.prototype.redirectToCheckout = function (options) {
    window.location.assign(ORIGIN + '/checkout/' + encodeURIComponent(options.sessionId));
    return new Promise(function () {});
  };

  window.Stripe = Stripe;
})();
