// The merchant page: lists and edits offers, flows and settings, shows one-click charges, why an
// order got no offer, the webhook inbox, dead jobs and data exports. Everything goes through /api/admin with a session token: from App
// Bridge (shopify.idToken()) inside the Shopify admin, or from the one-time development login.
// Errors are never silent: API field errors appear next to their field, anything else in the
// banner at the top.
'use strict';

const DEV_SESSION_KEY = 'afterglow.devSession';
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || 'request failed');
    this.status = status;
    this.code = error.code || 'unknown';
    this.fields = error.fields || (error.field ? [{ field: error.field, message: error.message }] : []);
  }
}

// ---- session --------------------------------------------------------------------------------

function embedded() {
  return typeof window.shopify === 'object' && window.shopify && typeof window.shopify.idToken === 'function';
}

function devSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(DEV_SESSION_KEY) || 'null');
    if (s && s.token && s.expires_at_ms > Date.now() + 5000) return s;
  } catch (_) { /* a damaged entry is the same as none */ }
  return null;
}

async function sessionToken() {
  if (embedded()) return await window.shopify.idToken();
  const dev = devSession();
  return dev ? dev.token : null;
}

// Trades ?login=CODE for a dev session, then removes the code from the address bar (and history).
async function devLoginFromUrl() {
  const url = new URL(window.location.href);
  const code = url.searchParams.get('login');
  if (!code) return;
  url.searchParams.delete('login');
  window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  let res;
  try {
    res = await fetch('/api/admin/dev-login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }),
    });
  } catch (e) {
    showBanner('Could not reach the server to sign in: ' + e.message);
    return;
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const msg = body.error ? body.error.message : 'HTTP ' + res.status;
    showBanner('Sign-in failed: ' + msg);
    return;
  }
  sessionStorage.setItem(DEV_SESSION_KEY, JSON.stringify(body));
}

// ---- API ------------------------------------------------------------------------------------

async function api(method, path, body, retried = false) {
  const token = await sessionToken();
  if (!token) {
    showSignIn();
    throw new ApiError(401, { code: 'unauthenticated', message: 'not signed in' });
  }
  const init = { method, headers: { Authorization: 'Bearer ' + token } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { code: 'network', message: 'Could not reach the server (' + e.message + '). Check your connection and try again.' });
  }
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON: reported below */ }
  if (res.status === 401 && !retried && embedded() &&
      res.headers.get('X-Shopify-Retry-Invalid-Session-Request') === '1') {
    return api(method, path, body, true);  // App Bridge hands out a fresh token
  }
  if (!res.ok) {
    if (res.status === 401 && !embedded()) {
      sessionStorage.removeItem(DEV_SESSION_KEY);
      showSignIn('Your session has ended. Open the newest login link the server printed.');
    }
    throw new ApiError(res.status, (data && data.error) || { code: 'http_' + res.status, message: 'The server answered ' + res.status + '.' });
  }
  if (data === null) throw new ApiError(res.status, { code: 'bad_response', message: 'The server sent an unreadable answer.' });
  return data;
}

// ---- feedback -------------------------------------------------------------------------------

function showBanner(message, ok = false) {
  const b = $('#banner');
  b.textContent = message;
  b.classList.toggle('ok', ok);
  b.hidden = false;
  if (ok) setTimeout(() => { if (b.textContent === message) b.hidden = true; }, 4000);
}
function clearBanner() { $('#banner').hidden = true; }

function showSignIn(message) {
  $('#app').hidden = true;
  $('#signin').hidden = false;
  $('#who').textContent = 'Not signed in';
  if (message) showBanner(message);
}

function clearFieldErrors(form) {
  $$('.field-error', form).forEach((e) => e.remove());
  $$('.invalid', form).forEach((e) => e.classList.remove('invalid'));
  const fe = $('[data-form-error]', form);
  if (fe) fe.textContent = '';
}

// The API's sentence without the field path, since it sits next to that field: "Must be between
// 0 and 100"; for an item of a list, "#2: must be …".
function fieldMessage(f, target) {
  if (!f.message.startsWith(f.field + ' ')) return f.message;
  const rest = f.message.slice(f.field.length + 1);
  const where = f.field.slice(target.length).replace(/\[(\d+)\]/g, (_, n) => ' #' + (Number(n) + 1))
    .replace(/\./g, ' ').trim();
  return where ? where + ': ' + rest : rest.charAt(0).toUpperCase() + rest.slice(1);
}

// Puts each API field error next to the input whose data-field is that field, or the longest
// prefix of it ("offers.triggers.product_ids[2]" goes to "offers.triggers.product_ids").
function showFieldErrors(form, err) {
  clearFieldErrors(form);
  const targets = $$('[data-field]', form);
  const unplaced = [];
  let first = null;
  for (const f of err.fields) {
    let best = null;
    for (const t of targets) {
      const name = t.dataset.field;
      if ((f.field === name || f.field.startsWith(name + '.') || f.field.startsWith(name + '[')) &&
          (!best || name.length > best.dataset.field.length)) best = t;
    }
    if (!best) { unplaced.push(f.message); continue; }
    const msg = document.createElement('div');
    msg.className = 'field-error';
    msg.setAttribute('role', 'alert');
    msg.dataset.errorFor = best.dataset.field;
    msg.title = f.message;
    msg.textContent = fieldMessage(f, best.dataset.field);
    if (best.matches('input, select, textarea')) {
      best.classList.add('invalid');
      best.setAttribute('aria-invalid', 'true');
      const host = best.closest('label') || best;
      host.appendChild(msg);
    } else {
      best.appendChild(msg);
    }
    first = first || best;
  }
  const fe = $('[data-form-error]', form);
  if (err.fields.length === 0) unplaced.push(err.message);
  if (fe && unplaced.length) fe.textContent = unplaced.join(' ');
  if (first && first.focus) first.focus();
}

function reportError(err, form) {
  if (err instanceof ApiError && err.code === 'unauthenticated' && err.message === 'not signed in') return;
  if (form && err instanceof ApiError && err.status === 400 && err.fields.length) {
    showFieldErrors(form, err);
    const n = err.fields.length;
    showBanner('Not saved: ' + (n === 1 ? 'one field needs' : n + ' fields need') + ' attention (marked below).');
    return;
  }
  if (form) {
    clearFieldErrors(form);
    const fe = $('[data-form-error]', form);
    if (fe) fe.textContent = err.message;
  }
  showBanner(err.message);
}

async function busy(button, fn) {
  if (button) button.disabled = true;
  try { return await fn(); } finally { if (button) button.disabled = false; }
}

// ---- helpers --------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}
const badge = (text) => el('span', { class: 'badge ' + text }, text);
const when = (ms) => (ms ? new Date(ms).toLocaleString() : '');
const str = (v) => (v == null ? '' : String(v));

// A text input as the API wants it: absent when empty, a number when it is one, else the text as
// typed (so the server names the field and says what is wrong).
function numberOrText(v) {
  const t = v.trim();
  if (t === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) && Number.isSafeInteger(Math.trunc(Number(t))) ? Number(t) : t;
}
function idOrText(v) { const t = v.trim(); return t === '' ? undefined : t; }
function list(v) { return v.split(',').map((s) => s.trim()).filter((s) => s !== ''); }
function compact(obj) {
  for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
  return obj;
}

// ---- offers ---------------------------------------------------------------------------------

const offers = { cursor: null, editing: null };

function discountText(d) {
  if (!d || d.type === 'none') return '—';
  return d.type === 'percent' ? d.percent + '%' : (d.amount_minor / 100).toFixed(2) + ' off';
}

function offerRow(o) {
  return el('tr', { dataset: { offerId: o.id } },
    el('td', {}, o.id), el('td', {}, o.title), el('td', {}, o.kind.replace('_', '-')),
    el('td', {}, badge(o.status)), el('td', {}, o.priority),
    el('td', {}, o.product_id + (o.variant_id ? ' / ' + o.variant_id : '')),
    el('td', {}, discountText(o.discount) + (o.free_shipping ? ' + free shipping' : '')),
    el('td', { class: 'actions-cell' },
      el('button', { class: 'secondary', onclick: () => editOffer(o) }, 'Edit'), ' ',
      el('button', { class: 'danger', onclick: (e) => deleteOffer(o, e.target) }, 'Delete')));
}

async function loadOffers(more = false) {
  const tbody = $('#offers-table tbody');
  if (!more) { tbody.textContent = ''; offers.cursor = null; }
  const q = new URLSearchParams({ limit: '50' });
  if (more && offers.cursor) q.set('cursor', offers.cursor);
  const data = await api('GET', '/api/admin/offers?' + q);
  data.offers.forEach((o) => tbody.append(offerRow(o)));
  offers.cursor = data.next_cursor;
  $('#offers-more').hidden = !data.next_cursor;
  $('#offers-empty').hidden = tbody.children.length > 0;
  $('#offers-table').hidden = tbody.children.length === 0;
}

function syncDiscountInputs(form) {
  const type = form.discount_type.value;
  $$('[data-show]', form).forEach((l) => { l.hidden = l.dataset.show !== type; });
}

function editOffer(o) {
  const f = $('#offer-form');
  clearFieldErrors(f);
  f.reset();
  offers.editing = o ? o.id : null;
  $('#offer-form-title').textContent = o ? 'Edit offer #' + o.id : 'New offer';
  if (o) {
    f.title.value = o.title; f.headline.value = o.headline; f.kind.value = o.kind; f.status.value = o.status;
    f.product_id.value = str(o.product_id); f.variant_id.value = str(o.variant_id);
    f.quantity.value = str(o.quantity); f.priority.value = str(o.priority);
    f.discount_type.value = o.discount.type;
    f.discount_percent.value = str(o.discount.percent); f.discount_amount_minor.value = str(o.discount.amount_minor);
    f.free_shipping.checked = o.free_shipping; f.catch_all.checked = o.catch_all;
    const t = o.triggers;
    f.t_product_ids.value = t.product_ids.join(', '); f.t_variant_ids.value = t.variant_ids.join(', ');
    f.t_collection_ids.value = t.collection_ids.join(', '); f.t_tags.value = t.tags.join(', ');
    f.t_customer_tags.value = t.customer_tags.join(', '); f.t_countries.value = t.countries.join(', ');
    f.t_currencies.value = t.currencies.join(', ');
    for (const k of ['min_quantity', 'max_quantity', 'min_order_value_minor', 'max_order_value_minor', 'min_order_count', 'max_order_count']) {
      f['t_' + k].value = str(t[k]);
    }
    f.after_accept.value = str(o.funnel.after_accept_offer_id);
    f.after_decline.value = str(o.funnel.after_decline_offer_id);
    f.arms.value = o.ab_test.arms.map((a) => a.name + ':' + a.weight).join(', ');
    f.holdout_share.value = str(o.ab_test.holdout_share);
    f.once_per_customer.checked = o.exclusions.once_per_customer;
    f.skip_ids.value = o.exclusions.skip_if_purchased_product_ids.join(', ');
  }
  syncDiscountInputs(f);
  f.hidden = false;
  f.scrollIntoView({ behavior: 'smooth', block: 'start' });
  f.title.focus();
}

function offerFromForm(f) {
  const discount = { type: f.discount_type.value };
  if (discount.type === 'percent') discount.percent = numberOrText(f.discount_percent.value);
  if (discount.type === 'fixed_amount') discount.amount_minor = numberOrText(f.discount_amount_minor.value);
  compact(discount);
  const triggers = compact({
    product_ids: list(f.t_product_ids.value), variant_ids: list(f.t_variant_ids.value),
    collection_ids: list(f.t_collection_ids.value), tags: list(f.t_tags.value),
    customer_tags: list(f.t_customer_tags.value), countries: list(f.t_countries.value),
    currencies: list(f.t_currencies.value),
    min_quantity: numberOrText(f.t_min_quantity.value), max_quantity: numberOrText(f.t_max_quantity.value),
    min_order_value_minor: numberOrText(f.t_min_order_value_minor.value),
    max_order_value_minor: numberOrText(f.t_max_order_value_minor.value),
    min_order_count: numberOrText(f.t_min_order_count.value), max_order_count: numberOrText(f.t_max_order_count.value),
  });
  const arms = list(f.arms.value).map((a) => {
    const [name, weight] = a.split(':').map((s) => s.trim());
    return { name, weight: weight === undefined ? 1 : numberOrText(weight) };
  });
  return compact({
    title: f.title.value, headline: f.headline.value, kind: f.kind.value, status: f.status.value,
    product_id: idOrText(f.product_id.value), variant_id: idOrText(f.variant_id.value),
    quantity: numberOrText(f.quantity.value), priority: numberOrText(f.priority.value),
    discount, free_shipping: f.free_shipping.checked, catch_all: f.catch_all.checked, triggers,
    funnel: compact({ after_accept_offer_id: idOrText(f.after_accept.value), after_decline_offer_id: idOrText(f.after_decline.value) }),
    ab_test: compact({ arms, holdout_share: numberOrText(f.holdout_share.value) }),
    exclusions: { once_per_customer: f.once_per_customer.checked, skip_if_purchased_product_ids: list(f.skip_ids.value) },
  });
}

async function saveOffer(e) {
  e.preventDefault();
  const f = e.target;
  const button = $('button[type=submit]', f);
  await busy(button, async () => {
    try {
      const body = offerFromForm(f);
      const data = offers.editing
        ? await api('PUT', '/api/admin/offers/' + offers.editing, body)
        : await api('POST', '/api/admin/offers', body);
      clearFieldErrors(f);
      f.hidden = true;
      clearBanner();
      showBanner('Offer "' + data.offer.title + '" saved.', true);
      await loadOffers();
    } catch (err) { reportError(err, f); }
  });
}

async function deleteOffer(o, button) {
  if (!window.confirm('Delete offer "' + o.title + '"?')) return;
  await busy(button, async () => {
    try {
      await api('DELETE', '/api/admin/offers/' + o.id);
      showBanner('Offer deleted.', true);
      await loadOffers();
    } catch (err) { reportError(err); }
  });
}

// ---- flows ----------------------------------------------------------------------------------

const flows = { cursor: null, editing: null };

const STEP_TEMPLATES = {
  delay: { type: 'delay', duration_minutes: 1440 },
  send_email: { type: 'send_email', subject: 'Something to go with your order', body: 'Hi {{first_name}}, …' },
  send_sms: { type: 'send_sms', body: '{{shop_name}}: a little something for your order… Reply STOP to opt out' },
  conditional_split: { type: 'conditional_split', condition: { field: 'order_count', op: 'gte', value: 2 }, yes: [], no: [] },
  random_split: { type: 'random_split', branches: [{ weight: 50, steps: [] }, { weight: 50, steps: [] }] },
};

function countSteps(steps) {
  let n = 0;
  for (const s of steps) {
    n += 1;
    n += countSteps(s.yes || []) + countSteps(s.no || []);
    for (const b of s.branches || []) n += countSteps(b.steps);
  }
  return n;
}

function flowRow(fl) {
  return el('tr', { dataset: { flowId: fl.id } },
    el('td', {}, fl.id), el('td', {}, fl.name), el('td', {}, fl.trigger.replace(/_/g, ' ')),
    el('td', {}, badge(fl.status)), el('td', {}, countSteps(fl.steps)),
    el('td', { class: 'actions-cell' },
      el('button', { class: 'secondary', onclick: () => editFlow(fl) }, 'Edit'), ' ',
      el('button', { class: 'danger', onclick: (e) => deleteFlow(fl, e.target) }, 'Delete')));
}

async function loadFlows(more = false) {
  const tbody = $('#flows-table tbody');
  if (!more) { tbody.textContent = ''; flows.cursor = null; }
  const q = new URLSearchParams({ limit: '50' });
  if (more && flows.cursor) q.set('cursor', flows.cursor);
  const data = await api('GET', '/api/admin/flows?' + q);
  data.flows.forEach((fl) => tbody.append(flowRow(fl)));
  flows.cursor = data.next_cursor;
  $('#flows-more').hidden = !data.next_cursor;
  $('#flows-empty').hidden = tbody.children.length > 0;
  $('#flows-table').hidden = tbody.children.length === 0;
}

function editFlow(fl) {
  const f = $('#flow-form');
  clearFieldErrors(f);
  f.reset();
  flows.editing = fl ? fl.id : null;
  $('#flow-form-title').textContent = fl ? 'Edit flow #' + fl.id : 'New flow';
  f.name.value = fl ? fl.name : '';
  f.trigger.value = fl ? fl.trigger : 'order_paid';
  f.status.value = fl ? fl.status : 'draft';
  f.reentry_cooldown_hours.value = fl ? fl.reentry_cooldown_hours : 720;
  const exits = fl ? fl.exit_conditions : ['ordered_since_start', 'unsubscribed'];
  $$('input[name=exit]', f).forEach((c) => { c.checked = exits.includes(c.value); });
  f.trigger_filters.value = JSON.stringify(fl ? fl.trigger_filters : [], null, 2);
  f.steps.value = JSON.stringify(fl ? fl.steps : [STEP_TEMPLATES.delay, STEP_TEMPLATES.send_email], null, 2);
  f.hidden = false;
  f.scrollIntoView({ behavior: 'smooth', block: 'start' });
  f.name.focus();
}

function parseJsonField(f, name, field) {
  try {
    return JSON.parse(f[name].value || '[]');
  } catch (e) {
    throw new ApiError(400, { code: 'invalid_argument', message: field + ' is not valid JSON: ' + e.message, field });
  }
}

async function saveFlow(e) {
  e.preventDefault();
  const f = e.target;
  const button = $('button[type=submit]', f);
  await busy(button, async () => {
    try {
      const body = {
        name: f.name.value, trigger: f.trigger.value, status: f.status.value,
        reentry_cooldown_hours: numberOrText(f.reentry_cooldown_hours.value),
        exit_conditions: $$('input[name=exit]:checked', f).map((c) => c.value),
        trigger_filters: parseJsonField(f, 'trigger_filters', 'flows.trigger_filters'),
        steps: parseJsonField(f, 'steps', 'flows.steps'),
      };
      const data = flows.editing
        ? await api('PUT', '/api/admin/flows/' + flows.editing, compact(body))
        : await api('POST', '/api/admin/flows', compact(body));
      clearFieldErrors(f);
      f.hidden = true;
      showBanner('Flow "' + data.flow.name + '" saved.', true);
      await loadFlows();
    } catch (err) { reportError(err, f); }
  });
}

async function deleteFlow(fl, button) {
  if (!window.confirm('Delete flow "' + fl.name + '"?')) return;
  await busy(button, async () => {
    try {
      await api('DELETE', '/api/admin/flows/' + fl.id);
      showBanner('Flow deleted.', true);
      await loadFlows();
    } catch (err) { reportError(err); }
  });
}

function addStep(type) {
  const f = $('#flow-form');
  let steps;
  try { steps = JSON.parse(f.steps.value || '[]'); } catch (_) {
    showBanner('Fix the steps JSON before adding a step.');
    return;
  }
  if (!Array.isArray(steps)) steps = [];
  steps.push(JSON.parse(JSON.stringify(STEP_TEMPLATES[type])));
  f.steps.value = JSON.stringify(steps, null, 2);
}

// ---- settings -------------------------------------------------------------------------------

async function loadSettings() {
  const { settings: s } = await api('GET', '/api/admin/settings');
  const f = $('#settings-form');
  clearFieldErrors(f);
  f.sender_name.value = s.sender_name; f.sender_email.value = s.sender_email;
  f.postal_address.value = s.postal_address;
  f.qh_enabled.checked = s.quiet_hours.enabled; f.qh_start.value = s.quiet_hours.start_hour;
  f.qh_end.value = s.quiet_hours.end_hour; f.qh_email.checked = s.quiet_hours.apply_to_email;
  $$('input[name=qh_day]', f).forEach((c) => { c.checked = s.quiet_hours.days.includes(c.value); });
  f.fc_email.value = s.frequency_caps.email_hours; f.fc_sms.value = s.frequency_caps.sms_hours;
  f.fc_weekly.value = s.frequency_caps.weekly_max;
  f.margin_floor_percent.value = s.margin_floor_percent; f.offer_window_minutes.value = s.offer_window_minutes;
  f.stripe_account_id.value = str(s.stripe_account_id);
}

async function saveSettings(e) {
  e.preventDefault();
  const f = e.target;
  $('#settings-saved').hidden = true;
  await busy($('button[type=submit]', f), async () => {
    try {
      await api('PUT', '/api/admin/settings', compact({
        sender_name: f.sender_name.value, sender_email: f.sender_email.value.trim(),
        postal_address: f.postal_address.value,
        quiet_hours: compact({
          enabled: f.qh_enabled.checked, start_hour: numberOrText(f.qh_start.value),
          end_hour: numberOrText(f.qh_end.value), apply_to_email: f.qh_email.checked,
          days: $$('input[name=qh_day]:checked', f).map((c) => c.value),
        }),
        frequency_caps: compact({
          email_hours: numberOrText(f.fc_email.value), sms_hours: numberOrText(f.fc_sms.value),
          weekly_max: numberOrText(f.fc_weekly.value),
        }),
        margin_floor_percent: numberOrText(f.margin_floor_percent.value),
        offer_window_minutes: numberOrText(f.offer_window_minutes.value),
        stripe_account_id: f.stripe_account_id.value.trim(),
      }));
      clearFieldErrors(f);
      $('#settings-saved').hidden = false;
      showBanner('Settings saved.', true);
    } catch (err) { reportError(err, f); }
  });
}

// ---- charges --------------------------------------------------------------------------------

const charges = { cursor: null };

function chargeHistory(c) {
  const items = (c.events || []).map((e) => el('li', {}, when(e.at_ms) + ' · ', badge(e.state),
    e.reason ? ' ' + e.reason : ''));
  const details = [];
  if (c.charge_key) details.push('Key ' + c.charge_key);
  if (c.decline_code) details.push('Decline code ' + c.decline_code);
  if (c.refund_id) details.push('Refund ' + c.refund_id);
  return el('tr', { class: 'history', dataset: { historyFor: c.id } },
    el('td', { colspan: '8' },
      details.length ? el('div', { class: 'hint' }, details.join(' · ')) : '',
      items.length ? el('ul', { class: 'events' }, ...items) : el('span', { class: 'hint' }, 'No state changes recorded.')));
}

function chargeRow(c) {
  const row = el('tr', { dataset: { chargeId: c.id } },
    el('td', {}, c.id), el('td', {}, str(c.order_id)), el('td', {}, str(c.offer_id)),
    el('td', {}, str(c.amount) + ' ' + str(c.currency)), el('td', {}, badge(c.state)),
    el('td', { class: 'note' }, str(c.payment_intent_id) + (c.reason ? ' — ' + c.reason : '')),
    el('td', {}, when(c.updated_at_ms)),
    el('td', { class: 'actions-cell' }, el('button', {
      class: 'secondary', 'aria-expanded': 'false',
      onclick: (e) => {
        const open = row.nextElementSibling && row.nextElementSibling.dataset.historyFor === String(c.id);
        if (open) row.nextElementSibling.remove(); else row.after(chargeHistory(c));
        e.target.setAttribute('aria-expanded', String(!open));
        e.target.textContent = open ? 'History' : 'Hide';
      },
    }, 'History')));
  return row;
}

async function loadCharges(more = false) {
  const tbody = $('#charges-table tbody');
  if (!more) { tbody.textContent = ''; charges.cursor = null; }
  const q = new URLSearchParams({ limit: '50' });
  if (more && charges.cursor) q.set('cursor', charges.cursor);
  const data = await api('GET', '/api/admin/charges?' + q);
  data.charges.forEach((c) => tbody.append(chargeRow(c)));
  charges.cursor = data.next_cursor;
  $('#charges-more').hidden = !data.next_cursor;
  $('#charges-empty').hidden = tbody.children.length > 0;
}

// ---- orders: why no offer -------------------------------------------------------------------

const REASONS = {
  no_active_offers: 'no active offers',
  no_matching_rule: "no offer's conditions matched this order",
  out_of_stock: 'the offered item is out of stock',
  already_in_order: 'the offered item is already in the order',
  already_purchased: 'the customer bought a product the offer skips',
  already_pitched: 'the customer already accepted or declined this item',
  once_per_customer: 'shown to this customer before (once per customer)',
  holdout: 'held out: the A/B control group sees nothing',
  unknown_product: 'the offered product is not in the synced catalogue',
  price_unknown: "the shop's currency is not known yet (catalogue not synced)",
  max_accepted: 'the order already has the most accepted offers',
  downsell_not_entry: 'a downsell is shown only after a decline',
  ineligible_payment: 'no stored card for this order (no matching Stripe payment)',
  no_payment_account: 'no Stripe account in Settings',
  currency_mismatch: "the shopper paid in another currency than the shop's",
  expired: 'the offer window was over',
  order_not_synced: 'the order had not arrived from Shopify yet',
  shop_inactive: 'the app was not installed',
};
const reasonText = (code) => (code ? code + (REASONS[code] ? ' — ' + REASONS[code] : '') : '');

const orders = { cursor: null, order: '' };

function decisionRow(d) {
  const shown = (d.shown || []).map((id) => '#' + id).join(', ');
  const passed = (d.rejections || []).map((r) => '#' + r.offer_id + ': ' + r.reason);
  if (d.unmatched_not_listed) passed.push('+' + d.unmatched_not_listed + ' more not matching');
  return el('tr', {},
    el('td', {}, when(d.created_at_ms)), el('td', {}, d.order_key),
    el('td', {}, d.surface === 'post_purchase' ? 'post-purchase' : 'thank-you'),
    el('td', {}, shown || '—'), el('td', { class: 'note' }, reasonText(d.reason)),
    el('td', { class: 'note' }, passed.join('; ')));
}

async function loadOrders(more = false) {
  const tbody = $('#orders-table tbody');
  if (!more) { tbody.textContent = ''; orders.cursor = null; }
  const q = new URLSearchParams();
  if (orders.order) {
    q.set('order', orders.order);
  } else {
    q.set('limit', '50');
    if (more && orders.cursor) q.set('cursor', orders.cursor);
  }
  const data = await api('GET', '/api/admin/diagnostics?' + q);
  data.decisions.forEach((d) => tbody.append(decisionRow(d)));
  orders.cursor = data.next_cursor || null;
  $('#orders-caption').textContent = orders.order
    ? 'Decisions for order ' + orders.order + ', oldest first.' : 'Recent decisions, newest first.';
  $('#orders-more').hidden = !orders.cursor;
  $('#orders-empty').hidden = tbody.children.length > 0;
}

// ---- inbox, jobs, exports -------------------------------------------------------------------

const views = { inbox: null, jobs: null, exports: null };

async function loadInbox(more = false) {
  const tbody = $('#inbox-table tbody');
  if (!more) tbody.textContent = '';
  const q = new URLSearchParams({ limit: '50' });
  const state = $('#inbox-state').value;
  if (state) q.set('state', state);
  if (more && views.inbox) q.set('cursor', views.inbox);
  const data = await api('GET', '/api/admin/inbox?' + q);
  for (const d of data.deliveries) {
    tbody.append(el('tr', {}, el('td', {}, when(d.received_at_ms)), el('td', {}, d.topic),
      el('td', {}, badge(d.state)), el('td', { class: 'note' }, d.note), el('td', {}, d.delivery_id)));
  }
  views.inbox = data.next_cursor;
  $('#inbox-more').hidden = !data.next_cursor;
  $('#inbox-empty').hidden = tbody.children.length > 0;
}

async function loadJobs(more = false) {
  const tbody = $('#jobs-table tbody');
  if (!more) tbody.textContent = '';
  const q = new URLSearchParams({ limit: '50' });
  if (more && views.jobs) q.set('cursor', views.jobs);
  const data = await api('GET', '/api/admin/jobs?' + q);
  for (const j of data.jobs) {
    tbody.append(el('tr', {}, el('td', {}, j.id), el('td', {}, j.kind),
      el('td', {}, j.attempts + ' / ' + j.max_attempts), el('td', { class: 'note' }, j.last_error),
      el('td', {}, when(j.finished_at_ms)),
      el('td', { class: 'actions-cell' }, el('button', { class: 'secondary', onclick: (e) => retryJob(j, e.target) }, 'Retry'))));
  }
  views.jobs = data.next_cursor;
  $('#jobs-more').hidden = !data.next_cursor;
  $('#jobs-empty').hidden = tbody.children.length > 0;
}

async function retryJob(j, button) {
  await busy(button, async () => {
    try {
      await api('POST', '/api/admin/jobs/' + j.id + '/retry', {});
      showBanner('Job ' + j.id + ' will run again.', true);
      await loadJobs();
    } catch (err) { reportError(err); }
  });
}

async function loadExports(more = false) {
  const tbody = $('#exports-table tbody');
  if (!more) tbody.textContent = '';
  const q = new URLSearchParams({ limit: '50' });
  if (more && views.exports) q.set('cursor', views.exports);
  const data = await api('GET', '/api/admin/exports?' + q);
  for (const x of data.exports) {
    tbody.append(el('tr', {}, el('td', {}, x.id), el('td', {}, str(x.customer_id)), el('td', {}, str(x.data_request_id)),
      el('td', {}, when(x.created_at_ms)), el('td', {}, x.size_bytes + ' B'),
      el('td', { class: 'actions-cell' }, el('button', { class: 'secondary', onclick: (e) => viewExport(x, e.target) }, 'View'))));
  }
  views.exports = data.next_cursor;
  $('#exports-more').hidden = !data.next_cursor;
  $('#exports-empty').hidden = tbody.children.length > 0;
}

async function viewExport(x, button) {
  await busy(button, async () => {
    try {
      const data = await api('GET', '/api/admin/exports/' + x.id);
      const pre = $('#export-view');
      pre.textContent = JSON.stringify(data.export.content, null, 2);
      pre.hidden = false;
    } catch (err) { reportError(err); }
  });
}

// ---- tabs and start-up ----------------------------------------------------------------------

const LOADERS = {
  offers: loadOffers, flows: loadFlows, charges: loadCharges, orders: loadOrders, settings: loadSettings,
  inbox: loadInbox, jobs: loadJobs, exports: loadExports,
};

async function showTab(name) {
  $$('.tabs button').forEach((b) => b.setAttribute('aria-selected', String(b.dataset.tab === name)));
  $$('.panel').forEach((p) => { p.hidden = p.id !== 'tab-' + name; });
  if (window.location.hash !== '#' + name) window.history.replaceState(null, '', '#' + name);
  try { await LOADERS[name](); } catch (err) { reportError(err); }
}

function wire() {
  $$('.tabs button').forEach((b) => b.addEventListener('click', () => showTab(b.dataset.tab)));
  $('#offer-new').addEventListener('click', () => editOffer(null));
  $('#offer-form').addEventListener('submit', saveOffer);
  $('#offer-form').discount_type.addEventListener('change', () => syncDiscountInputs($('#offer-form')));
  $('#flow-new').addEventListener('click', () => editFlow(null));
  $('#flow-form').addEventListener('submit', saveFlow);
  $$('[data-add-step]').forEach((b) => b.addEventListener('click', () => addStep(b.dataset.addStep)));
  $$('[data-cancel]').forEach((b) => b.addEventListener('click', () => {
    const f = b.closest('form'); clearFieldErrors(f); f.hidden = true;
  }));
  $('#settings-form').addEventListener('submit', saveSettings);
  $('#inbox-state').addEventListener('change', () => loadInbox().catch(reportError));
  $('#orders-form').addEventListener('submit', (e) => {
    e.preventDefault();
    orders.order = e.target.order.value.trim();
    loadOrders().catch(reportError);
  });
  $('#orders-recent').addEventListener('click', () => {
    orders.order = '';
    $('#orders-form').order.value = '';
    loadOrders().catch(reportError);
  });
  for (const name of ['offers', 'flows', 'charges', 'orders', 'inbox', 'jobs', 'exports']) {
    $('#' + name + '-more').addEventListener('click', () => LOADERS[name](true).catch(reportError));
  }
  window.addEventListener('unhandledrejection', (e) => reportError(e.reason || new Error('unexpected error')));
}

async function start() {
  wire();
  await devLoginFromUrl();
  let session;
  try {
    session = await api('GET', '/api/admin/session');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showSignIn();
      if (err.message !== 'not signed in') showBanner('Sign-in refused: ' + err.message);
    } else {
      reportError(err);
    }
    return;
  }
  $('#who').textContent = session.shop + (session.development ? ' · development session' : '');
  $('#signin').hidden = true;
  $('#app').hidden = false;
  const tab = window.location.hash.slice(1);
  await showTab(LOADERS[tab] ? tab : 'offers');
}

document.addEventListener('DOMContentLoaded', start);
