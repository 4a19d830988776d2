// The request pipeline. For every /v1 request, in this order:
//   1. record it (GET /_test/requests) and take a matching fault, if any;
//      drop_before / timeout act here: nothing else happens
//   2. authenticate (401), injected 429 / 503 / 409 / lock_timeout (none of them stored)
//   3. Stripe-Version, Stripe-Account (403 account_invalid), body parsing, routing (404)
//   4. idempotency: replay, 400 idempotency_error, 409 idempotency_key_in_use, or take the key
//   5. hold (POST /_test/hold) until POST /_test/release
//   6. execute (or the injected stored 500), store the outcome under the key unless it is a
//      parameter-validation error
//   7. answer (or drop_after: close the connection without answering), then send the webhooks
import {handleControl, Faults, Holds} from './control.mjs';
import * as charges from './charges.mjs';
import {StripeError} from './errors.mjs';
import {FormError, parseForm} from './form.mjs';
import {IdempotencyStore} from './idempotency.mjs';
import * as objects from './objects.mjs';
import * as paymentIntents from './payment_intents.mjs';
import * as refunds from './refunds.mjs';
import {Clock, PLATFORM_ACCOUNT, Store, randomToken} from './state.mjs';
import {DEFAULT_API_VERSION, Webhooks} from './webhooks.mjs';

const MAX_BODY = 1 << 20;
const TIMEOUT_FAULT_MS = 120_000;

function compileRoutes(table) {
  return table.map(([method, pattern, handler]) => ({
    method,
    regex: new RegExp(`^${pattern.replace(/:[a-z_]+/g, '([^/]+)')}$`),
    handler,
  }));
}

function maskKey(key) {
  const keep = /^[a-z]{2}_(test|live)_/.exec(key)?.[0] ?? key.slice(0, 3);
  if (key.length <= keep.length + 4) return `${keep}${'*'.repeat(Math.max(0, key.length - keep.length))}`;
  return `${keep}${'*'.repeat(key.length - keep.length - 4)}${key.slice(-4)}`;
}

// The key from `Authorization: Bearer <key>` or Basic with the key as the user name.
function apiKeyFrom(header) {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (basic) return Buffer.from(basic[1], 'base64').toString('utf8').split(':')[0];
  return header;
}

function authError(header) {
  const key = apiKeyFrom(header);
  if (!key) {
    return new StripeError(401, {
      type: 'invalid_request_error',
      message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    }, {stored: false, headers: {'WWW-Authenticate': 'Basic realm="Stripe"'}});
  }
  if (!key.startsWith('sk_test_')) {
    return new StripeError(401, {
      type: 'invalid_request_error',
      message: `Invalid API Key provided: ${maskKey(key)}`,
    }, {stored: false, headers: {'WWW-Authenticate': 'Basic realm="Stripe"'}});
  }
  return null;
}

function faultError(kind) {
  switch (kind) {
    case '429':
      return new StripeError(429, {type: 'invalid_request_error', code: 'rate_limit',
        doc_url: 'https://stripe.com/docs/error-codes/rate-limit',
        message: 'Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.'}, {stored: false});
    case '503':
      return new StripeError(503, {type: 'api_error',
        message: 'The server is temporarily unavailable. Please try again later.'}, {stored: false});
    case '409':
    case 'lock_timeout':
      return new StripeError(kind === '409' ? 409 : 429, {type: 'invalid_request_error', code: 'lock_timeout',
        doc_url: 'https://stripe.com/docs/error-codes/lock-timeout',
        message: 'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.'},
      {stored: false, headers: {'Stripe-Should-Retry': 'true'}});
    default:
      return null;
  }
}

function apiError500() {
  return new StripeError(500, {type: 'api_error', message: 'An unknown error occurred'});
}

export class App {
  // options: {webhook: {url, secret, ca_file} | null, seedCustomers: [{id, paymentMethod}],
  //           seedAccounts: ['acct_…'], log}
  constructor(options = {}) {
    this.options = options;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.clock = new Clock();
    this.store = new Store(this.clock);
    this.idempotency = new IdempotencyStore(this.clock);
    this.webhooks = new Webhooks(this.clock, this.log);
    this.faults = new Faults();
    this.holds = new Holds();
    this.requests = [];
    this.baseUrl = 'http://127.0.0.1';
    this.routes = compileRoutes([...objects.routes, ...paymentIntents.routes, ...charges.routes, ...refunds.routes]);
    this.#startState();
  }

  // The state after start-up: webhook endpoint from the command line, seeded accounts, and the
  // seeded customers (in the platform and in every seeded account).
  #startState() {
    this.webhooks.configure(this.options.webhook ?? null);
    const accounts = this.options.seedAccounts ?? [];
    for (const id of accounts) objects.seedAccount({clock: this.clock, store: this.store}, id);
    for (const seed of this.options.seedCustomers ?? []) {
      for (const account of [null, ...accounts]) {
        const ctx = {clock: this.clock, partition: this.store.partition(account)};
        const customer = objects.newCustomer(ctx, seed.id, {});
        if (seed.paymentMethod) customer.invoice_settings.default_payment_method = seed.paymentMethod;
      }
    }
  }

  reset() {
    this.holds.release(false);
    this.store.reset();
    this.idempotency.reset();
    this.webhooks.reset();
    this.faults.clear();
    this.requests = [];
    this.clock.offset = 0;
    this.#startState();
  }

  async handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const text = await readBody(req);
    if (text === null) {
      res.writeHead(413).end();
      return;
    }
    if (url.pathname.startsWith('/_test/')) return this.#control(req, res, url, text);
    return this.#api(req, res, url, text);
  }

  #control(req, res, url, text) {
    const out = handleControl(this, req.method, url, text);
    const payload = JSON.stringify(out.body);
    res.writeHead(out.status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), ...(out.headers ?? {})});
    res.end(payload);
    this.log(`${req.method} ${url.pathname} ${out.status}`);
    if (out.events) this.webhooks.flush(out.events);
  }

  async #api(req, res, url, text) {
    const requestId = `req_${randomToken(14)}`;
    const method = req.method;
    const path = url.pathname;
    const header = (name) => {
      const v = req.headers[name];
      return v === undefined ? undefined : String(v);
    };
    const key = header('idempotency-key');
    const accountHeader = header('stripe-account') || null;
    const account = accountHeader === PLATFORM_ACCOUNT ? null : accountHeader;
    const version = header('stripe-version');
    const row = {method, path, account, idempotency_key: key ?? null, status: null, replayed: false, request_id: requestId};
    this.requests.push(row);
    const logLine = (what) => this.log(`${method} ${path} ${what} account=${account ?? '-'} key=${key ?? '-'} ${requestId}${row.fault ? ` fault=${row.fault}` : ''}`);

    const respond = (status, payload, headers = {}) => {
      row.status = status;
      const h = {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(payload),
        'Request-Id': requestId,
        'Stripe-Version': version || DEFAULT_API_VERSION,
        'Cache-Control': 'no-cache, no-store',
        ...headers,
      };
      if (key !== undefined && method === 'POST') {
        h['Idempotency-Key'] = key;
        h['Original-Request'] ??= requestId;
      }
      res.writeHead(status, h);
      res.end(payload);
      logLine(`${status}${row.replayed ? ' replayed' : ''}`);
    };
    const respondError = (err) => respond(err.status, JSON.stringify(err.body(), null, 2), err.headers);

    const fault = this.faults.take(method, path);
    if (fault) row.fault = fault;
    if (fault === 'drop_before') {
      logLine('dropped');
      req.socket.destroy();
      return;
    }
    if (fault === 'timeout') {
      logLine('held without an answer');
      const timer = setTimeout(() => req.socket.destroy(), TIMEOUT_FAULT_MS);
      req.socket.once('close', () => clearTimeout(timer));
      return;
    }
    const denied = authError(header('authorization'));
    if (denied) return respondError(denied);
    const injected = faultError(fault);
    if (injected) return respondError(injected);
    if (version !== undefined && !/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(version)) {
      return respondError(new StripeError(400, {type: 'invalid_request_error',
        message: `Invalid Stripe API version: ${version}`}, {stored: false}));
    }
    if (account && !this.store.accountExists(account)) {
      return respondError(new StripeError(403, {type: 'invalid_request_error', code: 'account_invalid',
        doc_url: 'https://stripe.com/docs/error-codes/account-invalid',
        message: `The provided key '${maskKey(apiKeyFrom(header('authorization')))}' does not have access to account '${account}' (or that account does not exist). Application access may have been revoked.`}));
    }
    let params;
    try {
      if (method === 'POST' && text && !/^application\/x-www-form-urlencoded\b/i.test(header('content-type') ?? '')) {
        throw new FormError('Invalid request: the body must be application/x-www-form-urlencoded (Stripe does not accept JSON bodies).');
      }
      params = parseForm(method === 'POST' ? text : url.search.slice(1));
    } catch (e) {
      if (!(e instanceof FormError)) throw e;
      return respondError(new StripeError(400, {type: 'invalid_request_error', message: e.message}, {stored: false}));
    }
    let match = null;
    let route = null;
    for (const r of this.routes) {
      if (r.method === method && (match = r.regex.exec(path))) {
        route = r;
        break;
      }
    }
    if (!route) {
      return respondError(new StripeError(404, {type: 'invalid_request_error',
        message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`}));
    }

    let record = null;
    if (method === 'POST' && key !== undefined) {
      let begun;
      try {
        begun = this.idempotency.begin(account, key, method, path, params, requestId);
      } catch (e) {
        if (e instanceof StripeError) return respondError(e);
        throw e;
      }
      if (begun.kind === 'replay') {
        row.replayed = true;
        if (fault === 'drop_after') {
          row.status = begun.record.status;
          logLine(`${begun.record.status} replayed, dropped`);
          req.socket.destroy();
          return;
        }
        return respond(begun.record.status, begun.record.body,
          {'Idempotent-Replayed': 'true', 'Original-Request': begun.record.requestId});
      }
      record = begun.record;
    }

    if (this.holds.matches(method, path)) {
      logLine('held');
      const released = await this.holds.wait();
      if (!released) {
        if (record) this.idempotency.abandon(record);
        req.socket.destroy();
        return;
      }
    }

    const ctx = {
      store: this.store, clock: this.clock, webhooks: this.webhooks, baseUrl: this.baseUrl,
      params, account, partition: this.store.partition(account), requestId,
      idempotencyKey: key ?? null, stripeVersion: version || DEFAULT_API_VERSION, pendingEvents: [],
    };
    let status;
    let payload;
    let stored = true;
    let headers = {};
    try {
      if (fault === '500') throw apiError500();
      const out = route.handler(ctx, ...match.slice(1).map(decodeURIComponent));
      status = out.status;
      payload = JSON.stringify(out.body, null, 2);
    } catch (e) {
      let err = e;
      if (!(e instanceof StripeError)) {
        this.log(`internal error: ${e.stack}`);
        err = apiError500();
      }
      status = err.status;
      payload = JSON.stringify(err.body(), null, 2);
      stored = err.stored;
      headers = err.headers;
      if (!stored) ctx.pendingEvents.length = 0;
    }
    if (record) {
      if (stored) this.idempotency.complete(record, status, payload);
      else this.idempotency.abandon(record);
    }
    if (fault === 'drop_after') {
      row.status = status;
      logLine(`${status} dropped`);
      req.socket.destroy();
    } else {
      respond(status, payload, headers);
    }
    this.webhooks.flush(ctx.pendingEvents);
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
