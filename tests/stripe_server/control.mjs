// Test controls: injected faults, held requests, and the /_test/ JSON endpoints (no auth, never
// under /v1) through which tests inspect and steer the server.
import {TEST_CARDS, isMagicId, renderPaymentMethod} from './cards.mjs';
import {newCustomer, storePaymentMethod} from './objects.mjs';
import {authenticate} from './payment_intents.mjs';
import {newId} from './state.mjs';

export const FAULT_KINDS = ['500', '429', '409', '503', 'lock_timeout', 'timeout', 'drop_before', 'drop_after'];

function ruleMatches(rule, method, path) {
  const methodOk = rule.method === '*' || rule.method.toUpperCase() === method;
  const pathOk = rule.path.endsWith('*') ? path.startsWith(rule.path.slice(0, -1)) : rule.path === path;
  return methodOk && pathOk;
}

// Faults apply to the next `times` matching /v1 requests, first registered first. A path ending
// in '*' is a prefix.
export class Faults {
  constructor() {
    this.rules = [];
  }
  add({method, path, kind, times = 1}) {
    if (typeof method !== 'string' || typeof path !== 'string') throw new Error('method and path are required');
    if (!FAULT_KINDS.includes(String(kind))) throw new Error(`kind must be one of ${FAULT_KINDS.join(', ')}`);
    if (!Number.isInteger(times) || times < 1) throw new Error('times must be a positive integer');
    this.rules.push({method, path, kind: String(kind), remaining: times});
  }
  take(method, path) {
    const rule = this.rules.find((r) => ruleMatches(r, method, path));
    if (!rule) return null;
    if (--rule.remaining === 0) this.rules.splice(this.rules.indexOf(rule), 1);
    return rule.kind;
  }
  clear() {
    this.rules = [];
  }
}

// Matching requests wait (after taking their idempotency key, so the key is in use) until
// release(). The hold stays in force until then.
export class Holds {
  constructor() {
    this.rules = [];
    this.waiting = [];
  }
  add({method, path}) {
    if (typeof method !== 'string' || typeof path !== 'string') throw new Error('method and path are required');
    this.rules.push({method, path});
  }
  matches(method, path) {
    return this.rules.some((r) => ruleMatches(r, method, path));
  }
  // Resolves true when released, false when the server was reset meanwhile.
  wait() {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  get held() {
    return this.waiting.length;
  }
  release(ok = true) {
    const waiting = this.waiting;
    this.rules = [];
    this.waiting = [];
    for (const resolve of waiting) resolve(ok);
    return waiting.length;
  }
}

class ControlError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function bad(message) {
  return new ControlError(400, message);
}

function withAccount(account, object) {
  return {...object, account};
}

function sortedByCreated(items) {
  return items.map((x, i) => [x, i]).sort((a, b) => a[0].created - b[0].created || a[1] - b[1]).map(([x]) => x);
}

// A context like an API request's, for changes the control API makes on an account's behalf.
function controlContext(app, account) {
  return {
    store: app.store, clock: app.clock, webhooks: app.webhooks, baseUrl: app.baseUrl,
    account, partition: app.store.partition(account), requestId: null, idempotencyKey: null,
    pendingEvents: [], params: {},
  };
}

function accountParam(app, body) {
  const account = body.account || null;
  if (account && !app.store.accountExists(account)) throw bad(`no such account: ${account}`);
  return account;
}

// Returns {status, body, headers?} or throws ControlError.
function route(app, method, path, body, query) {
  const is = (m, p) => method === m && path === p;
  let m;
  if (is('POST', '/_test/faults')) {
    try {
      app.faults.add(body);
    } catch (e) {
      throw bad(e.message);
    }
    return {status: 200, body: {faults: app.faults.rules}};
  }
  if (is('GET', '/_test/faults')) return {status: 200, body: {faults: app.faults.rules}};
  if (is('DELETE', '/_test/faults')) {
    app.faults.clear();
    return {status: 200, body: {faults: []}};
  }
  if (is('POST', '/_test/hold')) {
    try {
      app.holds.add(body);
    } catch (e) {
      throw bad(e.message);
    }
    return {status: 200, body: {holds: app.holds.rules}};
  }
  if (is('GET', '/_test/held')) return {status: 200, body: {held: app.holds.held}};
  if (is('POST', '/_test/release')) return {status: 200, body: {released: app.holds.release()}};
  if (is('GET', '/_test/payment_intents')) {
    const data = [];
    for (const [account, p] of app.store.allPartitions()) for (const pi of p.paymentIntents.values()) data.push(withAccount(account, pi));
    return {status: 200, body: {data: sortedByCreated(data)}};
  }
  if (is('GET', '/_test/refunds')) {
    const data = [];
    for (const [account, p] of app.store.allPartitions()) for (const r of p.refunds.values()) data.push(withAccount(account, r));
    return {status: 200, body: {data: sortedByCreated(data)}};
  }
  if (is('GET', '/_test/customers')) {
    const data = [];
    for (const [account, p] of app.store.allPartitions()) for (const c of p.customers.values()) data.push(withAccount(account, c));
    return {status: 200, body: {data: sortedByCreated(data)}};
  }
  if (is('GET', '/_test/requests')) return {status: 200, body: app.requests};
  if (is('GET', '/_test/events')) return {status: 200, body: {data: app.webhooks.listWithStatus()}};
  if (is('GET', '/_test/deliveries')) return {status: 200, body: {data: app.webhooks.deliveries}};
  if ((m = /^\/_test\/payment_intents\/([^/]+)\/authenticate$/.exec(path)) && method === 'POST') {
    if (body.result !== 'succeed' && body.result !== 'fail') throw bad('result must be "succeed" or "fail"');
    return authenticateRoute(app, m[1], body.result === 'succeed');
  }
  if ((m = /^\/_test\/3ds\/([^/]+)$/.exec(path)) && method === 'GET') {
    // The page next_action points at: completes the challenge at once (?result=fail to fail
    // it), then sends the shopper to the return_url like Stripe's redirect flow.
    const found = app.store.findPaymentIntent(m[1]);
    const returnUrl = found?.pi.next_action?.redirect_to_url?.return_url;
    const succeed = query.get('result') !== 'fail';
    const out = authenticateRoute(app, m[1], succeed);
    if (!returnUrl) return out;
    const target = new URL(returnUrl);
    target.searchParams.set('payment_intent', out.body.id);
    target.searchParams.set('payment_intent_client_secret', out.body.client_secret);
    target.searchParams.set('redirect_status', out.body.status === 'succeeded' || out.body.status === 'requires_capture' ? 'succeeded' : 'failed');
    return {status: 302, body: {location: target.toString()}, headers: {Location: target.toString()}, events: out.events};
  }
  if (is('POST', '/_test/reset')) {
    app.reset();
    return {status: 200, body: {ok: true}};
  }
  if (is('GET', '/_test/clock')) return {status: 200, body: {now: app.clock.now(), offset: app.clock.offset}};
  if (is('POST', '/_test/clock')) {
    if (body.now !== undefined) {
      if (!Number.isInteger(body.now)) throw bad('now must be an integer (unix seconds)');
      app.clock.set(body.now);
    } else {
      if (!Number.isInteger(body.advance_seconds)) throw bad('advance_seconds must be an integer');
      app.clock.advance(body.advance_seconds);
    }
    return {status: 200, body: {now: app.clock.now(), offset: app.clock.offset}};
  }
  if (is('GET', '/_test/webhook')) return {status: 200, body: app.webhooks.config ?? {url: null}};
  if (is('POST', '/_test/webhook')) {
    try {
      return {status: 200, body: app.webhooks.configure(body) ?? {url: null}};
    } catch (e) {
      throw bad(e.message);
    }
  }
  if (is('DELETE', '/_test/webhook')) {
    app.webhooks.configure(null);
    return {status: 200, body: {url: null}};
  }
  if (is('POST', '/_test/payment_methods')) {
    const account = accountParam(app, body);
    const ctx = controlContext(app, account);
    const card = body.card || 'pm_card_visa';
    if (!isMagicId(card)) throw bad(`card must be one of ${Object.keys(TEST_CARDS).join(', ')}`);
    if (body.customer && !ctx.partition.customers.has(body.customer)) throw bad(`no such customer: ${body.customer}`);
    return {status: 200, body: renderPaymentMethod(storePaymentMethod(ctx, card, body.customer), app.clock)};
  }
  if (is('POST', '/_test/customers')) {
    const account = accountParam(app, body);
    const ctx = controlContext(app, account);
    if (body.id !== undefined && !/^cus_\w+$/.test(body.id)) throw bad('id must look like cus_…');
    if (body.id && ctx.partition.customers.has(body.id)) throw bad(`customer ${body.id} exists`);
    const customer = newCustomer(ctx, body.id || newId('cus'), {email: body.email});
    if (body.default_payment_method) customer.invoice_settings.default_payment_method = body.default_payment_method;
    return {status: 200, body: customer};
  }
  throw new ControlError(404, `no control endpoint ${method} ${path}`);
}

function authenticateRoute(app, id, succeed) {
  const found = app.store.findPaymentIntent(id);
  if (!found) throw new ControlError(404, `no such payment intent: ${id}`);
  const ctx = controlContext(app, found.account);
  try {
    authenticate(ctx, found.pi, succeed);
  } catch (e) {
    throw bad(e.message);
  }
  return {status: 200, body: found.pi, events: ctx.pendingEvents};
}

// Handles one /_test/ request. `body` is the raw text (JSON or empty).
export function handleControl(app, method, url, text) {
  let body = {};
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      return {status: 400, body: {error: 'body must be JSON'}};
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return {status: 400, body: {error: 'body must be a JSON object'}};
  }
  try {
    return route(app, method, url.pathname, body, url.searchParams);
  } catch (e) {
    if (e instanceof ControlError) return {status: e.status, body: {error: e.message}};
    throw e;
  }
}
