// Afterglow's thank-you widget for storefronts that are not Shopify (GET /checkout/widget.js;
// usage: README.md "Thank-you widget"; calls: manifests/README.md). Plain ES2017, no build step,
// no dependencies; server data reaches the page through textContent only. `core` is pure (state
// machine, requests, money, countdown) so tests load this file in Node with a stub document.
(function (root) {
  'use strict';
  // "processing" (or a 3-D Secure result still on its way by webhook) is re-checked this often,
  // this many times, then the shopper gets a button.
  const RECHECK_MS = 1500;
  const MAX_RECHECKS = 5;

  // ---- pure part ----
  const formatMoney = (m, locale) => {
    const n = m && m.amount != null ? Number(m.amount) : NaN;
    if (!isFinite(n)) return '';
    const cur = String(m.currencyCode || '').toUpperCase();
    try {
      return new Intl.NumberFormat(locale, {style: 'currency', currency: cur}).format(n);
    } catch (e) {  // no Intl, or a code it does not know
      return `${n < 0 ? '-' : ''}${Math.abs(n).toFixed(2)} ${cur}`;
    }
  };

  // Receipt rows (the server leaves out what does not apply); compare-at is struck through.
  const ROWS = [['price', 'Price'], ['discount', 'Discount'], ['subtotal', 'Subtotal'],
                ['shipping', 'Shipping'], ['taxes', 'Taxes'], ['total', 'Total']];
  const breakdownRows = (pricing, locale) => ROWS.filter(([k]) => pricing && pricing[k]).map(([k, label]) => {
    const m = pricing[k];
    const row = {key: k, label,
                 text: formatMoney(k === 'discount' ? {amount: -Math.abs(m.amount), currencyCode: m.currencyCode} : m, locale)};
    const was = pricing.compareAt;
    if (k === 'price' && was && Number(was.amount) > Number(m.amount)) row.compareAt = formatMoney(was, locale);
    return row;
  });

  // expiresAt: ISO 8601 text or epoch ms; NaN when absent.
  const expiryMs = (offer) => {
    const v = offer && offer.expiresAt;
    return v == null || v === '' ? NaN : +new Date(v);
  };

  const pad2 = (n) => (n < 10 ? '0' : '') + n;
  // "Offer ends in 14:59" (or "1:02:03"), "Offer expired"; "" without an expiry.
  const countdownText = (expires, now) => {
    if (!isFinite(expires)) return '';
    const left = Math.ceil((expires - now) / 1000);
    if (left <= 0) return 'Offer expired';
    const h = Math.floor(left / 3600), m = Math.floor(left / 60) % 60;
    return `Offer ends in ${h > 0 ? `${h}:${pad2(m)}` : m}:${pad2(left % 60)}`;
  };

  // {url, init} for fetch; kind: offers | accept | decline. Only ids and the signed offer token
  // are sent: what is added, at what price, is the server's.
  const buildRequest = (kind, ctx, offer, token) => {
    const body = {surface: 'thank_you', orderId: String(ctx.orderId)};
    if (kind !== 'offers') Object.assign(body, {offerId: offer.id, offerToken: offer.token});
    const headers = {'Content-Type': 'application/json'};
    if (token) headers.Authorization = `Bearer ${token}`;
    return {url: `${String(ctx.backend || '').replace(/\/+$/, '')}/checkout/${kind}`,
            init: {method: 'POST', headers, body: JSON.stringify(body)}};
  };

  const MESSAGES = {
    succeeded: 'Added to your order',
    declined: 'Your card was declined. You have not been charged.',
    requires_action: 'Your bank needs you to confirm this payment',
    processing: 'Processing…',
    refunded: 'We could not add this item, so your payment was refunded.',
    failed: 'We could not charge your card. You have not been charged.',
    expired: 'This offer has expired.',
    error: 'Something went wrong. You are never charged twice for one offer: try again.',
  };

  // The main button for a state, or null when the state takes no more clicks.
  const acceptButton = (s) => ({
    offer: {label: 'Add to my order', enabled: true},
    accepting: {label: 'Adding…', enabled: false},
    requires_action: {label: 'Check again', enabled: true},
    processing: {label: 'Check again', enabled: !s.recheckIn},
    error: {label: 'Try again', enabled: true},
  })[s.phase] || null;

  // loading → none (no offer or no backend: nothing shown) | offer → accepting → succeeded |
  // declined | requires_action | processing | refunded | failed | error; offer → dismissed |
  // expired. An answer with a `next` offer shows it, the outcome as its notice. caps.stripe:
  // Stripe.js and a publishable key are present.
  const reduce = (s, ev, caps = {}) => {
    const offer = s.offer;
    switch (ev.type) {
      case 'offers':
        return ev.offers && ev.offers[0] ? {phase: 'offer', offer: ev.offers[0]} : {phase: 'none'};
      case 'offers_failed':
        return {phase: 'none', error: ev.error};
      case 'accept':  // a click or a re-check; a double click is a no-op
        if (!acceptButton(s) || s.phase === 'accepting') return s;
        return {phase: 'accepting', offer, rechecks: s.rechecks || 0, actionDone: !!s.actionDone};
      case 'accept_failed':
        return {phase: 'error', offer, message: ev.message || MESSAGES.error};
      case 'action_done':  // Stripe.js finished the bank's challenge (or failed it)
        return {phase: 'accepting', offer, rechecks: 0, actionDone: true};
      case 'decline':
        return {phase: 'dismissed'};
      case 'decline_result':
        return ev.next && s.phase === 'dismissed' ? {phase: 'offer', offer: ev.next} : s;
      case 'expire':
        return s.phase === 'offer' ? {phase: 'expired', offer, message: MESSAGES.expired} : s;
      case 'accept_result':
        return afterAccept(s, ev.result || {}, caps);
    }
    return s;
  };

  const afterAccept = (s, r, caps) => {
    const offer = s.offer, st = r.status, rechecks = s.rechecks || 0;
    const message = r.message || MESSAGES[st] || MESSAGES.error;
    if (st === 'succeeded' || st === 'declined') {
      const added = offer && offer.productTitle ? `${MESSAGES.succeeded}: ${offer.productTitle}` : MESSAGES.succeeded;
      const notice = st === 'succeeded' ? {tone: 'success', text: added} : {tone: 'critical', text: message};
      if (r.next) return {phase: 'offer', offer: r.next, notice};
      return {phase: st, offer, message: notice.text};
    }
    if (st === 'processing' || (st === 'requires_action' && s.actionDone && rechecks < MAX_RECHECKS)) {
      // After Stripe.js handled the challenge the outcome comes by webhook: keep checking.
      return {phase: 'processing', offer, rechecks: rechecks + 1, actionDone: !!s.actionDone,
              message: MESSAGES.processing, recheckIn: rechecks < MAX_RECHECKS ? RECHECK_MS : 0};
    }
    if (st === 'requires_action') {
      return {phase: st, offer, message: MESSAGES.requires_action,
              clientSecret: caps.stripe && !s.actionDone ? r.clientSecret : undefined};
    }
    if (st === 'refunded' || st === 'failed') return {phase: st, offer, message};
    return {phase: 'error', offer, message: 'Unexpected answer from the server.'};
  };

  // What to do on entering a state; null: wait for the shopper.
  const effectFor = (s) => {
    if (s.phase === 'accepting') return {type: 'post_accept'};
    if (s.phase === 'processing' && s.recheckIn) return {type: 'recheck', delayMs: s.recheckIn};
    if (s.phase === 'requires_action' && s.clientSecret) return {type: 'stripe_next_action', clientSecret: s.clientSecret};
    return null;
  };

  const core = {formatMoney, breakdownRows, expiryMs, countdownText, buildRequest, reduce,
                effectFor, acceptButton, MESSAGES, MAX_RECHECKS};

  // ---- the page ----
  // Every rule is scoped under .ag-widget.
  const CSS = ['{font:15px/1.4 system-ui,sans-serif;border:1px solid #ddd;border-radius:8px;padding:16px;margin:16px 0;max-width:520px}',
    ' h2{margin:0 0 10px;font-size:17px}', ' .ag-item{display:flex;gap:12px;align-items:center}', ' img{width:72px;border-radius:6px}',
    ' .ag-title,.ag-total{font-weight:600}', ' .ag-sub,s,.ag-timer{color:#666;font-size:13px}',
    ' .ag-rows{display:grid;grid-template-columns:1fr auto;gap:2px 12px;margin:12px 0}',
    ' .ag-status{margin:10px 0;padding:8px;border-radius:6px;background:#eef}', ' .ag-status:empty{display:none}',
    ' .ag-success{background:#e3f5e1}', ' .ag-critical{background:#fde8e8}', ' .ag-warning{background:#fff4d6}',
    ' button{font:inherit;padding:8px 16px;margin:0 8px 8px 0;border-radius:6px;border:1px solid #222;background:#fff}',
    ' .ag-primary{background:#222;color:#fff}', ' button:disabled{opacity:.5}'].map((r) => '.ag-widget' + r).join('\n');
  const TONES = {succeeded: 'success', requires_action: 'warning', processing: 'info'};

  function mount(element, o = {}) {
    const doc = element.ownerDocument, win = doc.defaultView || root;
    const ctx = {orderId: o.orderId, backend: o.backend || ''};
    const getToken = o.getSessionToken || (() => o.sessionToken);
    const stripe = o.stripeKey && typeof win.Stripe === 'function'
      ? win.Stripe(o.stripeKey, o.stripeAccount ? {stripeAccount: o.stripeAccount} : {}) : null;
    const caps = {stripe: !!stripe};
    let state = {phase: 'loading'}, timer = null, destroyed = false;
    const add = (parent, tag, cls, text) => {
      const e = parent.appendChild(doc.createElement(tag));
      if (cls) e.className = cls;
      if (text != null) e.textContent = text;
      return e;
    };
    if (!doc.getElementById('ag-widget-css')) add(doc.head || doc.documentElement, 'style', '', CSS).id = 'ag-widget-css';
    const box = add(element, 'div', 'ag-widget');
    box.hidden = true;

    const post = async (kind, offer, timeoutMs) => {
      const req = buildRequest(kind, ctx, offer, await getToken());
      const ctl = new AbortController();
      req.init.signal = ctl.signal;
      const t = setTimeout(() => ctl.abort(), timeoutMs);
      let res, data;
      try {
        res = await win.fetch(req.url, req.init);
        data = (await res.json().catch(() => null)) || {};
      } catch (e) {
        throw new Error('Could not reach the server.');
      } finally {
        clearTimeout(t);
      }
      if (!res.ok) throw new Error((data.error && data.error.message) || `The server answered ${res.status}.`);
      return data;
    };

    const dispatch = (ev) => {
      if (destroyed) return;
      state = reduce(state, ev, caps);
      render();
      const fx = effectFor(state) || {};
      if (fx.type === 'post_accept') {
        post('accept', state.offer, 25000).then((result) => dispatch({type: 'accept_result', result}),
                                                 (e) => dispatch({type: 'accept_failed', message: e.message}));
      } else if (fx.type === 'recheck') {
        setTimeout(() => dispatch({type: 'accept'}), fx.delayMs);
      } else if (fx.type === 'stripe_next_action') {
        const done = () => dispatch({type: 'action_done'});
        stripe.handleNextAction({clientSecret: fx.clientSecret}).then(done, done);
      }
    };

    const button = (parent, label, cls, onClick) => {
      const b = add(parent, 'button', cls, label);
      b.type = 'button';
      b.addEventListener('click', onClick);
      return b;
    };

    function render() {
      clearInterval(timer);
      box.textContent = '';
      if (state.phase === 'offer' && Date.now() >= expiryMs(state.offer)) state = reduce(state, {type: 'expire'});
      const s = state, offer = s.offer;
      box.hidden = !offer || s.phase === 'dismissed';
      if (box.hidden) return;
      box.dataset.phase = s.phase;
      add(box, 'h2', 'ag-head', offer.headline || 'Add to your order');
      const item = add(box, 'div', 'ag-item');
      if (/^(https:|data:image\/)/.test(offer.imageUrl || '')) {
        Object.assign(add(item, 'img'), {src: offer.imageUrl, alt: offer.productTitle || ''});
      }
      const names = add(item, 'div');
      add(names, 'div', 'ag-title', offer.productTitle || '');
      for (const t of [offer.variantTitle, offer.description]) if (t) add(names, 'div', 'ag-sub', t);

      const rows = add(box, 'div', 'ag-rows');
      for (const r of breakdownRows(offer.pricing)) {
        const strong = r.key === 'total' ? 'ag-total' : '';
        add(rows, 'span', strong, r.label);
        const value = add(rows, 'span', strong);
        if (r.compareAt) add(value, 's', '', r.compareAt);
        value.append(r.text);
      }

      const expires = expiryMs(offer);
      if (s.phase === 'offer' && isFinite(expires)) {
        const clock = add(box, 'div', 'ag-timer', countdownText(expires, Date.now()));
        timer = setInterval(() => {
          clock.textContent = countdownText(expires, Date.now());
          if (Date.now() >= expires) dispatch({type: 'expire'});
        }, 1000);
      }

      // role=status: screen readers announce each outcome.
      const notice = s.notice || (s.message ? {tone: TONES[s.phase] || 'critical', text: s.message} : {});
      const status = add(box, 'div', `ag-status${notice.tone ? ' ag-' + notice.tone : ''}`, notice.text);
      status.setAttribute('role', 'status');
      status.setAttribute('aria-live', 'polite');

      const main = acceptButton(s);
      if (!main) return;
      const buttons = add(box, 'div');
      const accept = button(buttons, main.label, 'ag-primary', () => {
        accept.disabled = true;  // a second click before the state changes does nothing
        dispatch({type: 'accept'});
      });
      accept.disabled = !main.enabled;
      if (s.phase !== 'offer') return;
      button(buttons, 'No thanks', '', () => {
        const declined = state.offer;
        dispatch({type: 'decline'});
        // The answer only feeds the funnel; a failure changes nothing here.
        post('decline', declined, 8000).then((r) => dispatch({type: 'decline_result', next: r.next}), () => {});
      });
      add(box, 'div', 'ag-sub', 'Charged to the card you just paid with. No card details needed.');
    }

    post('offers', null, 10000).then(
      (data) => dispatch({type: 'offers', offers: Array.isArray(data.offers) ? data.offers : []}),
      (e) => {
        if (win.console) win.console.warn('afterglow: no offer:', e.message);
        dispatch({type: 'offers_failed', error: e.message});
      });

    return {
      state: () => state,
      destroy() {
        destroyed = true;
        clearInterval(timer);
        box.remove();
      },
    };
  }

  // Mounts each <script data-order-id> that loaded this file, once.
  function autoMount(doc) {
    for (const s of doc.querySelectorAll('script[data-order-id]')) {
      const d = s.dataset;
      if (!/\/checkout\/widget\.js(\?|$)/.test(s.src) || d.agMounted) continue;
      d.agMounted = '1';
      let target = d.target && doc.querySelector(d.target);
      if (!target) s.after(target = doc.createElement('div'));
      mount(target, {orderId: d.orderId, sessionToken: d.sessionToken, backend: new URL(s.src).origin,
                     stripeKey: d.stripeKey, stripeAccount: d.stripeAccount});
    }
  }

  root.AfterglowWidget = {mount, core};
  const doc = root.document;
  if (doc && typeof doc.querySelectorAll === 'function') {
    if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', () => autoMount(doc));
    else autoMount(doc);
  }
})(this);  // window, or the global of a test's vm context
