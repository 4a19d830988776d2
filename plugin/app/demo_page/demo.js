// The demo page's "Behind the scenes" panel: the order's lines and the charge ledger, from
// GET /demo/state (development only). Polls every second while something is in flight: after a
// click in the widget, and while a charge is in a state that is still moving (the Stripe call,
// the order edit, a refund). Text via textContent only.
'use strict';

(function () {
  // States that change without the shopper (one_click.h, charge_fulfilment.h).
  const MOVING = new Set(['pending', 'unknown', 'processing', 'succeeded', 'committing', 'committed',
                          'refunding']);
  const POLL_MS = 1000;
  const AFTER_CLICK_MS = 8000;  // a click may start a charge the server has not written yet
  let pollUntil = 0;
  let timer = null;

  const $ = (sel) => document.querySelector(sel);
  function cell(row, text, cls) {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function money(amount, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(Number(amount));
    } catch (e) {
      return amount + ' ' + currency;
    }
  }
  function time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function renderOrder(order) {
    const body = $('#order-lines tbody');
    body.textContent = '';
    for (const line of order.lines) {
      const tr = body.insertRow();
      if (line.added) tr.className = 'added';
      const item = cell(tr, line.title + (line.variant_title && line.variant_title !== 'Default Title'
        ? ' · ' + line.variant_title : ''));
      if (line.added) {
        const tag = document.createElement('span');
        tag.className = 'tag';
        tag.textContent = 'added after checkout';
        item.appendChild(tag);
      }
      cell(tr, String(line.quantity));
      cell(tr, money(line.amount, order.currency), 'num');
    }
  }

  function renderLedger(charges) {
    $('#ledger-empty').hidden = charges.length > 0;
    $('#ledger').hidden = charges.length === 0;
    const body = $('#ledger tbody');
    body.textContent = '';
    for (const c of charges) {
      const tr = body.insertRow();
      tr.dataset.state = c.state;
      cell(tr, String(c.id));
      cell(tr, c.product_title + (c.variant_title && c.variant_title !== 'Default Title'
        ? ' · ' + c.variant_title : ''));
      cell(tr, c.payment_intent_id || '—', 'state');
      cell(tr, money(c.amount, c.currency.toUpperCase()), 'num');
      cell(tr, c.state + (c.reason ? ' (' + c.reason + ')' : ''), 'state');
      cell(tr, c.events.map((e) => time(e.at_ms) + ' ' + e.state).join(' → '), 'history');
    }
  }

  async function refresh() {
    timer = null;
    let moving = false;
    try {
      const res = await fetch('/demo/state', { cache: 'no-store' });
      const data = await res.json();
      if (!res.ok) throw new Error((data.error && data.error.message) || 'HTTP ' + res.status);
      renderOrder(data.order);
      renderLedger(data.charges);
      moving = data.charges.some((c) => MOVING.has(c.state));
      $('#state-error').hidden = true;
    } catch (e) {
      $('#state-error').textContent = 'Could not read /demo/state: ' + e.message;
      $('#state-error').hidden = false;
    }
    const polling = moving || Date.now() < pollUntil;
    $('#poll-state').textContent = polling ? '· live' : '';
    if (polling) timer = setTimeout(refresh, POLL_MS);
  }

  // Any click inside the widget (accept, check again, no thanks) may start something. Capture
  // phase: the widget re-renders in its own click handler, detaching the button clicked.
  document.addEventListener('click', (e) => {
    if (!e.target.closest('.ag-widget')) return;
    pollUntil = Date.now() + AFTER_CLICK_MS;
    if (!timer) timer = setTimeout(refresh, 300);
  }, true);
  refresh();
})();
