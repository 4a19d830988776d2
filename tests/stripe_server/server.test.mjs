// The Stripe-compatible test server speaks Stripe's wire protocol: auth, form encoding, Connect
// partitioning, PaymentIntent outcomes per test card, idempotency (replay, mismatch, in-use,
// stored 500, unstored 429), refunds, search, signed webhooks and every injected fault.
// Run: node --test tests/stripe_server/
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import {createHmac} from 'node:crypto';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {after, before, beforeEach, describe, test} from 'node:test';
import {fileURLToPath} from 'node:url';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'server.mjs');
const KEY = 'sk_test_afterglow';

let child;
let base;
let stderr = '';

function startServer(args = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    proc.stderr.on('data', (d) => {
      stderr += d;
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (\d+)\n/.exec(out);
      if (m) resolve({proc, port: Number(m[1]), firstLine: out});
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

before(async () => {
  const started = await startServer(['--seed-customer', 'cus_demo:pm_card_visa']);
  child = started.proc;
  base = `http://127.0.0.1:${started.port}`;
});

after(() => child?.kill('SIGTERM'));

beforeEach(async () => {
  await control('POST', '/_test/reset');
});

// One HTTP exchange. Resolves {status, headers, text, json}, or {error} when the connection
// closed without an answer.
function request(method, path, {body, headers = {}, timeoutMs = 10_000} = {}) {
  return new Promise((resolve) => {
    const req = http.request(`${base}${path}`, {method, headers}, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({status: res.statusCode, headers: res.headers, text, json});
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', (error) => resolve({error}));
    req.end(body);
  });
}

function encode(params) {
  return Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

// A Stripe API call: form-encoded params, Bearer auth unless `auth` says otherwise.
function api(method, path, params = {}, {key, account, auth = `Bearer ${KEY}`, version, raw, timeoutMs} = {}) {
  const headers = {};
  if (auth) headers.Authorization = auth;
  if (key) headers['Idempotency-Key'] = key;
  if (account) headers['Stripe-Account'] = account;
  if (version) headers['Stripe-Version'] = version;
  const form = raw ?? encode(params);
  if (method === 'GET') return request(method, form ? `${path}?${form}` : path, {headers, timeoutMs});
  headers['Content-Type'] = 'application/x-www-form-urlencoded';
  return request(method, path, {body: form, headers, timeoutMs});
}

async function control(method, path, body) {
  const res = await request(method, path, {
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : {'Content-Type': 'application/json'},
  });
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
  return res.json;
}

// Polls `probe` until it returns a truthy value (a test harness wait, not a sleep).
async function waitFor(probe, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function allPaymentIntents() {
  return (await control('GET', '/_test/payment_intents')).data;
}

const OFF_SESSION = {amount: '1500', currency: 'usd', customer: 'cus_demo', payment_method: 'pm_card_visa',
  confirm: 'true', off_session: 'true'};
const ON_SESSION = {amount: '1500', currency: 'usd', customer: 'cus_demo', payment_method: 'pm_card_visa',
  confirm: 'true', 'payment_method_types[]': 'card'};

describe('start-up and authentication', () => {
  test('prints exactly one listening line on stdout and stops on SIGTERM', async () => {
    const {proc, firstLine} = await startServer();
    assert.match(firstLine, /^listening \d+\n$/);
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({code, signal})));
    proc.kill('SIGTERM');
    const {code} = await exited;
    assert.equal(code, 0);
  });

  test('missing or non-test keys get 401 with a masked key; Bearer and Basic both work', async () => {
    const none = await api('GET', '/v1/customers/cus_demo', {}, {auth: null});
    assert.equal(none.status, 401);
    assert.equal(none.json.error.type, 'invalid_request_error');
    assert.match(none.json.error.message, /did not provide an API key/);
    assert.match(none.headers['request-id'], /^req_/);

    const live = await api('GET', '/v1/customers/cus_demo', {}, {auth: 'Bearer sk_live_abcdefgh12345678'});
    assert.equal(live.status, 401);
    assert.match(live.json.error.message, /^Invalid API Key provided: sk_live_\*+5678$/);
    assert.ok(!live.text.includes('abcdefgh'));

    const bearer = await api('GET', '/v1/customers/cus_demo');
    assert.equal(bearer.status, 200);
    assert.equal(bearer.json.object, 'customer');
    assert.equal(bearer.json.invoice_settings.default_payment_method, 'pm_card_visa');
    const basic = await api('GET', '/v1/customers/cus_demo', {}, {auth: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`});
    assert.equal(basic.status, 200);
    assert.match(basic.headers['request-id'], /^req_/);
    assert.notEqual(basic.headers['request-id'], bearer.headers['request-id']);
  });

  test('unknown routes and JSON bodies are rejected the way Stripe does', async () => {
    const unknown = await api('POST', '/v1/widgets', {a: '1'});
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error.message, /Unrecognized request URL \(POST: \/v1\/widgets\)/);
    const json = await request('POST', '/v1/customers', {body: '{"email":"a@b.c"}',
      headers: {Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json'}});
    assert.equal(json.status, 400);
    const missing = await api('GET', '/v1/payment_intents/pi_nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'resource_missing');
  });
});

describe('form encoding', () => {
  test('bracket nesting raw or percent-encoded and [] or indexed arrays', async () => {
    const raw = 'amount=2000&currency=usd&customer=cus_demo&payment_method=pm_card_visa&confirm=true' +
      '&payment_method_types%5B0%5D=card&metadata%5Border_id%5D=1001&metadata[shop]=demo+shop&expand[]=latest_charge';
    const res = await api('POST', '/v1/payment_intents', {}, {raw});
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.metadata, {order_id: '1001', shop: 'demo shop'});
    assert.deepEqual(res.json.payment_method_types, ['card']);
    assert.equal(res.json.latest_charge.object, 'charge');
    assert.equal(res.json.latest_charge.status, 'succeeded');
    const conflicting = await api('POST', '/v1/customers', {}, {raw: 'metadata=x&metadata[a]=b'});
    assert.equal(conflicting.status, 400);
  });

  test('GET parameters come from the query string', async () => {
    for (let i = 0; i < 3; ++i) assert.equal((await api('POST', '/v1/payment_intents', OFF_SESSION)).status, 200);
    const listed = await api('GET', '/v1/payment_intents', {customer: 'cus_demo', limit: '2'});
    assert.equal(listed.status, 200);
    assert.equal(listed.json.object, 'list');
    assert.equal(listed.json.data.length, 2);
    assert.equal(listed.json.has_more, true);
    assert.equal(listed.json.url, '/v1/payment_intents');
  });
});

describe('payment intents', () => {
  test('an off-session charge on a saved card succeeds with the real object shape', async () => {
    const res = await api('POST', '/v1/payment_intents', {...OFF_SESSION, description: 'upsell',
      'metadata[order_id]': '1001', statement_descriptor_suffix: 'UPSELL'});
    assert.equal(res.status, 200, res.text);
    const pi = res.json;
    for (const field of ['id', 'object', 'amount', 'amount_received', 'currency', 'customer', 'payment_method',
      'status', 'client_secret', 'confirmation_method', 'capture_method', 'created', 'livemode', 'metadata',
      'last_payment_error', 'next_action', 'latest_charge', 'description']) {
      assert.ok(field in pi, `missing ${field}`);
    }
    assert.match(pi.id, /^pi_\w{24}$/);
    assert.equal(pi.object, 'payment_intent');
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.amount_received, 1500);
    assert.match(pi.latest_charge, /^ch_/);
    assert.equal(pi.livemode, false);
    assert.equal(pi.client_secret.startsWith(`${pi.id}_secret_`), true);
    assert.equal(pi.description, 'upsell');
    assert.equal(pi.statement_descriptor_suffix, 'UPSELL');
    assert.equal(pi.last_payment_error, null);
    const fetched = await api('GET', `/v1/payment_intents/${pi.id}`);
    assert.deepEqual(fetched.json, pi);
    const charge = await api('GET', `/v1/charges/${pi.latest_charge}`);
    assert.equal(charge.json.payment_intent, pi.id);
    assert.equal(charge.json.amount_captured, 1500);
  });

  test('parameter validation errors name the parameter', async () => {
    const cases = [
      [{currency: 'usd'}, 'parameter_missing', 'amount'],
      [{amount: '49', currency: 'usd'}, 'amount_too_small', 'amount'],
      [{amount: '100000000', currency: 'usd'}, 'amount_too_large', 'amount'],
      [{amount: 'ten', currency: 'usd'}, 'parameter_invalid_integer', 'amount'],
      [{amount: '1000', currency: 'usd', off_session: 'true'}, undefined, 'off_session'],
      [{amount: '1000', currency: 'USD'}, undefined, 'currency'],
      [{amount: '1000', currency: 'usd', bogus: '1'}, 'parameter_unknown', 'bogus'],
      [{amount: '1000', currency: 'usd', [`metadata[${'k'.repeat(41)}]`]: 'v'}, undefined, `metadata[${'k'.repeat(41)}]`],
      [{amount: '1000', currency: 'usd', 'metadata[k]': 'v'.repeat(501)}, undefined, 'metadata[k]'],
    ];
    for (const [params, code, param] of cases) {
      const res = await api('POST', '/v1/payment_intents', params);
      assert.equal(res.status, 400, JSON.stringify(params));
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.equal(res.json.error.code, code, JSON.stringify(params));
      assert.equal(res.json.error.param, param);
    }
    const many = {amount: '1000', currency: 'usd'};
    for (let i = 0; i < 51; ++i) many[`metadata[k${i}]`] = 'v';
    assert.equal((await api('POST', '/v1/payment_intents', many)).json.error.param, 'metadata');
    delete many['metadata[k50]'];
    assert.equal((await api('POST', '/v1/payment_intents', many)).status, 200);
    assert.equal((await allPaymentIntents()).length, 1);
  });

  test('unknown customers and payment methods are resource_missing', async () => {
    const noCustomer = await api('POST', '/v1/payment_intents', {...OFF_SESSION, customer: 'cus_missing'});
    assert.equal(noCustomer.status, 400);
    assert.equal(noCustomer.json.error.code, 'resource_missing');
    assert.equal(noCustomer.json.error.param, 'customer');
    const noPm = await api('POST', '/v1/payment_intents', {...OFF_SESSION, payment_method: 'pm_missing'});
    assert.equal(noPm.status, 400);
    assert.equal(noPm.json.error.code, 'resource_missing');
    assert.equal(noPm.json.error.param, 'payment_method');
    assert.equal((await api('GET', '/v1/payment_methods/pm_missing')).status, 404);
    assert.deepEqual(await allPaymentIntents(), []);
  });

  test('confirming on-session needs a return_url unless redirects are ruled out', async () => {
    const base = {amount: '1500', currency: 'usd', customer: 'cus_demo', payment_method: 'pm_card_visa', confirm: 'true'};
    const bare = await api('POST', '/v1/payment_intents', base);
    assert.equal(bare.status, 400);
    assert.equal(bare.json.error.type, 'invalid_request_error');
    assert.match(bare.json.error.message, /must provide a `return_url`/);
    const ok = [
      {return_url: 'https://shop.example/thanks'},
      {'payment_method_types[]': 'card'},
      {'automatic_payment_methods[enabled]': 'true', 'automatic_payment_methods[allow_redirects]': 'never'},
      {off_session: 'true'},
    ];
    for (const extra of ok) {
      const res = await api('POST', '/v1/payment_intents', {...base, ...extra});
      assert.equal(res.status, 200, `${JSON.stringify(extra)}: ${res.text}`);
      assert.equal(res.json.status, 'succeeded');
    }
    const old = await api('POST', '/v1/payment_intents', base, {version: '2022-11-15'});
    assert.equal(old.status, 200, 'before 2023-08-16 automatic payment methods are off by default');
    const both = await api('POST', '/v1/payment_intents', {...base, 'payment_method_types[]': 'card',
      'automatic_payment_methods[enabled]': 'true'});
    assert.equal(both.status, 400);
  });

  test('declines are 402 card errors carrying the stored payment intent', async () => {
    const cards = {
      pm_card_chargeDeclined: ['card_declined', 'generic_decline'],
      pm_card_visa_chargeDeclined: ['card_declined', 'generic_decline'],
      pm_card_chargeDeclinedInsufficientFunds: ['card_declined', 'insufficient_funds'],
      pm_card_visa_chargeDeclinedInsufficientFunds: ['card_declined', 'insufficient_funds'],
      pm_card_chargeDeclinedExpiredCard: ['expired_card', 'expired_card'],
      pm_card_chargeCustomerFail: ['card_declined', 'generic_decline'],
    };
    for (const [pm, [code, declineCode]] of Object.entries(cards)) {
      for (const params of [{...OFF_SESSION, payment_method: pm}, {...ON_SESSION, payment_method: pm}]) {
        const res = await api('POST', '/v1/payment_intents', params);
        assert.equal(res.status, 402, pm);
        const e = res.json.error;
        assert.equal(e.type, 'card_error');
        assert.equal(e.code, code, pm);
        assert.equal(e.decline_code, declineCode, pm);
        assert.match(e.charge, /^ch_/);
        assert.equal(e.payment_intent.status, 'requires_payment_method');
        assert.equal(e.payment_intent.last_payment_error.decline_code, declineCode);
        const stored = await api('GET', `/v1/payment_intents/${e.payment_intent.id}`);
        assert.equal(stored.json.status, 'requires_payment_method');
        assert.equal(stored.json.last_payment_error.code, code);
      }
    }
  });

  test('a 3DS card on-session needs action and completes through the shopper', async () => {
    for (const pm of ['pm_card_authenticationRequired', 'pm_card_threeDSecure2Required', 'pm_card_authenticationRequiredOnSetup']) {
      const res = await api('POST', '/v1/payment_intents', {...ON_SESSION, payment_method: pm});
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.status, 'requires_action', pm);
      assert.equal(res.json.next_action.type, 'use_stripe_sdk');
      assert.match(res.json.client_secret, /^pi_\w+_secret_\w+$/);
    }
    const pending = (await allPaymentIntents()).map((pi) => pi.id);
    const done = await control('POST', `/_test/payment_intents/${pending[0]}/authenticate`, {result: 'succeed'});
    assert.equal(done.status, 'succeeded');
    assert.match(done.latest_charge, /^ch_/);
    const failed = await control('POST', `/_test/payment_intents/${pending[1]}/authenticate`, {result: 'fail'});
    assert.equal(failed.status, 'requires_payment_method');
    assert.equal(failed.last_payment_error.code, 'payment_intent_authentication_failure');
    const again = await request('POST', `/_test/payment_intents/${pending[0]}/authenticate`,
      {body: '{"result":"succeed"}', headers: {'Content-Type': 'application/json'}});
    assert.equal(again.status, 400, 'only a requires_action intent can be authenticated');
  });

  test('a 3DS card off-session fails with authentication_required', async () => {
    for (const pm of ['pm_card_authenticationRequired', 'pm_card_threeDSecure2Required']) {
      const res = await api('POST', '/v1/payment_intents', {...OFF_SESSION, payment_method: pm});
      assert.equal(res.status, 402);
      assert.equal(res.json.error.code, 'authentication_required');
      assert.equal(res.json.error.decline_code, 'authentication_required');
      assert.equal(res.json.error.payment_intent.status, 'requires_payment_method');
    }
    const setUp = await api('POST', '/v1/payment_intents', {...OFF_SESSION, payment_method: 'pm_card_authenticationRequiredOnSetup'});
    assert.equal(setUp.status, 200);
    assert.equal(setUp.json.status, 'succeeded');
  });

  test('real payment methods belong to their customer', async () => {
    const other = await api('POST', '/v1/customers', {email: 'other@example.com'});
    const attached = await api('POST', '/v1/payment_methods/pm_card_visa/attach', {customer: 'cus_demo'});
    assert.equal(attached.status, 200);
    assert.match(attached.json.id, /^pm_\w{24}$/);
    assert.equal(attached.json.customer, 'cus_demo');
    const own = await api('POST', '/v1/payment_intents', {...OFF_SESSION, payment_method: attached.json.id});
    assert.equal(own.status, 200);
    const foreign = await api('POST', '/v1/payment_intents', {...OFF_SESSION, customer: other.json.id, payment_method: attached.json.id});
    assert.equal(foreign.status, 400);
    const declinedAttach = await api('POST', '/v1/payment_methods/pm_card_chargeDeclined/attach', {customer: 'cus_demo'});
    assert.equal(declinedAttach.status, 402);
    const made = await control('POST', '/_test/payment_methods', {card: 'pm_card_chargeCustomerFail', customer: other.json.id});
    const fails = await api('POST', '/v1/payment_intents', {...OFF_SESSION, customer: other.json.id, payment_method: made.id});
    assert.equal(fails.status, 402);
    assert.equal(fails.json.error.decline_code, 'generic_decline');
  });

  test('cancel and manual capture follow the status rules', async () => {
    const manual = await api('POST', '/v1/payment_intents', {...OFF_SESSION, capture_method: 'manual'});
    assert.equal(manual.json.status, 'requires_capture');
    assert.equal(manual.json.amount_capturable, 1500);
    const captured = await api('POST', `/v1/payment_intents/${manual.json.id}/capture`, {amount_to_capture: '1000'});
    assert.equal(captured.json.status, 'succeeded');
    assert.equal(captured.json.amount_received, 1000);
    const cancelSucceeded = await api('POST', `/v1/payment_intents/${manual.json.id}/cancel`);
    assert.equal(cancelSucceeded.status, 400);
    assert.equal(cancelSucceeded.json.error.code, 'payment_intent_unexpected_state');
    const open = await api('POST', '/v1/payment_intents', {amount: '700', currency: 'usd', customer: 'cus_demo'});
    assert.equal(open.json.status, 'requires_payment_method');
    const canceled = await api('POST', `/v1/payment_intents/${open.json.id}/cancel`, {cancellation_reason: 'abandoned'});
    assert.equal(canceled.json.status, 'canceled');
    const unconfirmed = await api('POST', '/v1/payment_intents', {amount: '700', currency: 'usd', customer: 'cus_demo', payment_method: 'pm_card_visa'});
    assert.equal(unconfirmed.json.status, 'requires_confirmation');
    const confirmed = await api('POST', `/v1/payment_intents/${unconfirmed.json.id}/confirm`, {off_session: 'true'});
    assert.equal(confirmed.json.status, 'succeeded');
  });
});

describe('idempotency', () => {
  test('a completed request is replayed with the same status and body', async () => {
    const first = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'order-1001'});
    const second = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'order-1001'});
    assert.equal(second.status, 200);
    assert.equal(second.text, first.text);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.headers['original-request'], first.headers['request-id']);
    assert.notEqual(second.headers['request-id'], first.headers['request-id']);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    assert.equal((await allPaymentIntents()).length, 1);
    const declined = {...OFF_SESSION, payment_method: 'pm_card_chargeDeclined'};
    const d1 = await api('POST', '/v1/payment_intents', declined, {key: 'order-1002'});
    const d2 = await api('POST', '/v1/payment_intents', declined, {key: 'order-1002'});
    assert.equal(d2.status, 402);
    assert.equal(d2.text, d1.text);
    assert.equal(d2.headers['idempotent-replayed'], 'true');
    const requests = await control('GET', '/_test/requests');
    assert.deepEqual(requests.map((r) => [r.idempotency_key, r.status, r.replayed]),
      [['order-1001', 200, false], ['order-1001', 200, true], ['order-1002', 402, false], ['order-1002', 402, true]]);
  });

  test('the same key with other parameters or another endpoint is an idempotency_error', async () => {
    await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'k'});
    const params = await api('POST', '/v1/payment_intents', {...OFF_SESSION, amount: '2500'}, {key: 'k'});
    assert.equal(params.status, 400);
    assert.equal(params.json.error.type, 'idempotency_error');
    const endpoint = await api('POST', '/v1/customers', {email: 'a@example.com'}, {key: 'k'});
    assert.equal(endpoint.status, 400);
    assert.equal(endpoint.json.error.type, 'idempotency_error');
    assert.match(endpoint.json.error.message, /same endpoint/);
    const reordered = await api('POST', '/v1/payment_intents', {}, {key: 'k',
      raw: encode({off_session: 'true', confirm: 'true', payment_method: 'pm_card_visa', customer: 'cus_demo', currency: 'usd', amount: '1500'})});
    assert.equal(reordered.status, 200, 'parameter order does not matter');
    assert.equal(reordered.headers['idempotent-replayed'], 'true');
  });

  test('a concurrent request with a key in use gets 409 and is not stored', async () => {
    await control('POST', '/_test/hold', {method: 'POST', path: '/v1/payment_intents'});
    const first = api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'busy'});
    await waitFor(async () => (await control('GET', '/_test/held')).held >= 1, 'the held request');
    const second = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'busy'});
    assert.equal(second.status, 409);
    assert.equal(second.json.error.type, 'invalid_request_error');
    assert.equal(second.json.error.code, 'idempotency_key_in_use');
    assert.deepEqual(await allPaymentIntents(), [], 'the held request has not executed yet');
    assert.deepEqual(await control('POST', '/_test/release'), {released: 1});
    const done = await first;
    assert.equal(done.status, 200);
    const third = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'busy'});
    assert.equal(third.headers['idempotent-replayed'], 'true');
    assert.equal(third.json.id, done.json.id);
    assert.equal((await allPaymentIntents()).length, 1);
  });

  test('validation errors are not stored and the key can be retried', async () => {
    const bad = await api('POST', '/v1/payment_intents', {...OFF_SESSION, amount: '10'}, {key: 'retry-me'});
    assert.equal(bad.status, 400);
    const fixed = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'retry-me'});
    assert.equal(fixed.status, 200);
    assert.equal(fixed.headers['idempotent-replayed'], undefined);
  });

  test('keys are per account and expire after 24 hours', async () => {
    const first = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'day'});
    await control('POST', '/_test/clock', {advance_seconds: 24 * 3600 - 10});
    const replay = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'day'});
    assert.equal(replay.json.id, first.json.id);
    await control('POST', '/_test/clock', {advance_seconds: 20});
    const fresh = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'day'});
    assert.equal(fresh.status, 200);
    assert.notEqual(fresh.json.id, first.json.id);
    assert.equal(fresh.headers['idempotent-replayed'], undefined);
  });

  test('an injected 500 is stored and a 429 is not', async () => {
    await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind: '500', times: 1});
    const failed = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'five-hundred'});
    assert.equal(failed.status, 500);
    assert.equal(failed.json.error.type, 'api_error');
    assert.deepEqual(await allPaymentIntents(), [], 'the 500 created nothing');
    const replayed = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'five-hundred'});
    assert.equal(replayed.status, 500);
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.deepEqual(await allPaymentIntents(), []);

    await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind: '429', times: 1});
    const limited = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'rate'});
    assert.equal(limited.status, 429);
    assert.equal(limited.json.error.code, 'rate_limit');
    const retried = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'rate'});
    assert.equal(retried.status, 200);
    assert.equal(retried.headers['idempotent-replayed'], undefined);
    assert.equal((await allPaymentIntents()).length, 1);
  });
});

describe('faults', () => {
  test('409 503 and lock_timeout answer without storing or executing', async () => {
    const expected = {409: [409, 'lock_timeout'], 503: [503, undefined], lock_timeout: [429, 'lock_timeout']};
    for (const [kind, [status, code]] of Object.entries(expected)) {
      await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind, times: 1});
      const res = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: `f-${kind}`});
      assert.equal(res.status, status, kind);
      assert.equal(res.json.error.code, code);
      const retry = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: `f-${kind}`});
      assert.equal(retry.status, 200, kind);
      assert.equal(retry.headers['idempotent-replayed'], undefined);
    }
    assert.equal((await allPaymentIntents()).length, 3);
  });

  test('times counts matching requests only and DELETE clears', async () => {
    await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind: '503', times: 2});
    assert.equal((await api('GET', '/v1/customers/cus_demo')).status, 200, 'another path is untouched');
    assert.equal((await api('POST', '/v1/payment_intents', OFF_SESSION)).status, 503);
    assert.equal((await api('POST', '/v1/payment_intents', OFF_SESSION)).status, 503);
    assert.equal((await api('POST', '/v1/payment_intents', OFF_SESSION)).status, 200);
    await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind: '503', times: 5});
    await control('DELETE', '/_test/faults');
    assert.equal((await api('POST', '/v1/payment_intents', OFF_SESSION)).status, 200);
  });

  test('drop_before closes the connection without executing', async () => {
    await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind: 'drop_before'});
    const res = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'drop-1'});
    assert.ok(res.error, 'no answer');
    assert.deepEqual(await allPaymentIntents(), []);
    const retry = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'drop-1'});
    assert.equal(retry.status, 200);
    assert.equal(retry.headers['idempotent-replayed'], undefined);
  });

  test('drop_after executes and stores then closes without answering', async () => {
    await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind: 'drop_after'});
    const res = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'drop-2'});
    assert.ok(res.error, 'no answer');
    const created = await allPaymentIntents();
    assert.equal(created.length, 1);
    assert.equal(created[0].status, 'succeeded');
    const retry = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'drop-2'});
    assert.equal(retry.status, 200);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(retry.json.id, created[0].id);
  });

  test('timeout never answers and executes nothing', async () => {
    await control('POST', '/_test/faults', {method: 'POST', path: '/v1/payment_intents', kind: 'timeout'});
    const res = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'slow', timeoutMs: 300});
    assert.equal(res.error?.message, 'client timeout');
    assert.deepEqual(await allPaymentIntents(), []);
    const rows = await control('GET', '/_test/requests');
    assert.equal(rows[0].fault, 'timeout');
    assert.equal(rows[0].status, null);
    const retry = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'slow'});
    assert.equal(retry.status, 200);
  });

  test('bad fault requests are refused', async () => {
    const res = await request('POST', '/_test/faults', {body: JSON.stringify({method: 'POST', path: '/v1/x', kind: 'explode'}),
      headers: {'Content-Type': 'application/json'}});
    assert.equal(res.status, 400);
  });
});

describe('connect', () => {
  test('data is partitioned per account and unknown accounts get 403', async () => {
    const acct = (await api('POST', '/v1/accounts', {type: 'express'})).json;
    assert.match(acct.id, /^acct_/);
    assert.equal(acct.object, 'account');
    const denied = await api('GET', '/v1/customers/cus_demo', {}, {account: 'acct_nope'});
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.code, 'account_invalid');
    assert.equal(denied.json.error.type, 'invalid_request_error');

    const customer = (await api('POST', '/v1/customers', {email: 's@example.com'}, {account: acct.id})).json;
    assert.equal((await api('GET', `/v1/customers/${customer.id}`)).status, 404, 'invisible to the platform');
    assert.equal((await api('GET', `/v1/customers/${customer.id}`, {}, {account: acct.id})).status, 200);
    assert.equal((await api('GET', '/v1/customers/cus_demo', {}, {account: acct.id})).status, 404);

    const params = {...OFF_SESSION, customer: customer.id};
    const connected = await api('POST', '/v1/payment_intents', params, {account: acct.id, key: 'shared-key'});
    const platform = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'shared-key'});
    assert.equal(connected.status, 200);
    assert.equal(platform.status, 200, 'keys are scoped to the account');
    assert.equal(platform.headers['idempotent-replayed'], undefined);
    const all = await allPaymentIntents();
    assert.deepEqual(all.map((pi) => pi.account).sort(), [acct.id, null].sort());
    assert.equal((await api('GET', `/v1/payment_intents/${connected.json.id}`)).status, 404);
  });
});

describe('refunds', () => {
  test('partial then remaining refunds then charge_already_refunded', async () => {
    const pi = (await api('POST', '/v1/payment_intents', OFF_SESSION)).json;
    const part = await api('POST', '/v1/refunds', {payment_intent: pi.id, amount: '500', reason: 'requested_by_customer',
      'metadata[why]': 'order_edit_failed'});
    assert.equal(part.status, 200, part.text);
    assert.match(part.json.id, /^re_/);
    assert.equal(part.json.object, 'refund');
    assert.equal(part.json.amount, 500);
    assert.equal(part.json.currency, 'usd');
    assert.equal(part.json.payment_intent, pi.id);
    assert.equal(part.json.charge, pi.latest_charge);
    assert.equal(part.json.status, 'succeeded');
    assert.equal(part.json.reason, 'requested_by_customer');
    assert.deepEqual(part.json.metadata, {why: 'order_edit_failed'});
    const tooMuch = await api('POST', '/v1/refunds', {payment_intent: pi.id, amount: '1001'});
    assert.equal(tooMuch.status, 400);
    assert.equal(tooMuch.json.error.code, 'amount_too_large');
    const rest = await api('POST', '/v1/refunds', {charge: pi.latest_charge});
    assert.equal(rest.json.amount, 1000);
    const again = await api('POST', '/v1/refunds', {payment_intent: pi.id});
    assert.equal(again.status, 400);
    assert.equal(again.json.error.code, 'charge_already_refunded');
    const listed = await api('GET', '/v1/refunds', {payment_intent: pi.id});
    assert.deepEqual(listed.json.data.map((r) => r.amount), [1000, 500]);
    const charge = await api('GET', `/v1/charges/${pi.latest_charge}`);
    assert.equal(charge.json.refunded, true);
    assert.equal(charge.json.amount_refunded, 1500);
    assert.equal((await control('GET', '/_test/refunds')).data.length, 2);
  });

  test('a payment intent that did not succeed cannot be refunded', async () => {
    const declined = await api('POST', '/v1/payment_intents', {...OFF_SESSION, payment_method: 'pm_card_chargeDeclined'});
    const res = await api('POST', '/v1/refunds', {payment_intent: declined.json.error.payment_intent.id});
    assert.equal(res.status, 400);
    assert.equal(res.json.error.type, 'invalid_request_error');
    const missing = await api('POST', '/v1/refunds', {payment_intent: 'pi_missing'});
    assert.equal(missing.json.error.code, 'resource_missing');
    assert.equal((await api('POST', '/v1/refunds', {reason: 'duplicate'})).status, 400);
  });
});

describe('search', () => {
  test('metadata clauses joined by AND select the matching intents', async () => {
    const make = (order, offer) => api('POST', '/v1/payment_intents', {...OFF_SESSION,
      'metadata[order_id]': order, 'metadata[offer_id]': offer});
    const a = (await make('1001', 'o1')).json;
    const b = (await make('1001', 'o2')).json;
    await make('1002', 'o1');
    const one = await api('GET', '/v1/payment_intents/search', {query: "metadata['order_id']:'1001' AND metadata['offer_id']:'o2'"});
    assert.equal(one.status, 200);
    assert.equal(one.json.object, 'search_result');
    assert.equal(one.json.has_more, false);
    assert.equal(one.json.url, '/v1/payment_intents/search');
    assert.deepEqual(one.json.data.map((pi) => pi.id), [b.id]);
    const two = await api('GET', '/v1/payment_intents/search', {query: 'metadata["order_id"]:"1001"'});
    assert.deepEqual(two.json.data.map((pi) => pi.id).sort(), [a.id, b.id].sort());
    const none = await api('GET', '/v1/payment_intents/search', {query: "metadata['order_id']:'9999'"});
    assert.deepEqual(none.json.data, []);
    const status = await api('GET', '/v1/payment_intents/search', {query: "status:'succeeded' AND amount>=1500"});
    assert.equal(status.json.data.length, 3);
    const bad = await api('GET', '/v1/payment_intents/search', {query: 'metadata[order_id]=1001'});
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'query');
  });
});

describe('webhooks', () => {
  let receiver;
  let received;
  let respondWith;
  let waiters;

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push({headers: req.headers, body});
        res.writeHead(respondWith.shift() ?? 200).end();
        for (const w of waiters.splice(0)) w();
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  after(() => receiver.close());
  beforeEach(() => {
    received = [];
    respondWith = [];
    waiters = [];
  });

  async function receivedAtLeast(n) {
    const deadline = Date.now() + 5000;
    while (received.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${received.length} of ${n} deliveries arrived`);
      await new Promise((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return received;
  }

  function verify(delivery, secret) {
    const header = delivery.headers['stripe-signature'];
    const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=')));
    assert.match(parts.t, /^\d+$/);
    const expected = createHmac('sha256', secret).update(`${parts.t}.${delivery.body}`).digest('hex');
    assert.equal(parts.v1, expected, 'v1 is HMAC-SHA256(secret, t.body)');
    return JSON.parse(delivery.body);
  }

  test('events are signed with the whsec secret as-is and carry the request', async () => {
    const secret = 'whsec_test_secret';
    const url = `http://127.0.0.1:${receiver.address().port}/webhooks/stripe`;
    await control('POST', '/_test/webhook', {url, secret});
    const pi = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'hook-1'});
    const [delivery] = await receivedAtLeast(1);
    assert.equal(delivery.headers['content-type'], 'application/json; charset=utf-8');
    const event = verify(delivery, secret);
    assert.match(event.id, /^evt_/);
    assert.equal(event.object, 'event');
    assert.equal(event.type, 'payment_intent.succeeded');
    assert.equal(event.livemode, false);
    assert.equal(typeof event.api_version, 'string');
    assert.equal(typeof event.created, 'number');
    assert.equal(event.pending_webhooks, 1);
    assert.deepEqual(event.request, {id: pi.headers['request-id'], idempotency_key: 'hook-1'});
    assert.equal(event.data.object.id, pi.json.id);
    assert.equal('account' in event, false);
    const events = await waitFor(async () => {
      const data = (await control('GET', '/_test/events')).data;
      return data[0]?.delivery.state === 'delivered' && data;
    }, 'the delivery record');
    assert.deepEqual(events[0].delivery.statuses, [200]);
    const listed = await api('GET', `/v1/events/${event.id}`);
    assert.equal(listed.json.type, 'payment_intent.succeeded');
  });

  test('each payment outcome and refund produces its event type', async () => {
    const secret = 'whsec_types';
    await control('POST', '/_test/webhook', {url: `http://127.0.0.1:${receiver.address().port}/`, secret});
    const acct = (await api('POST', '/v1/accounts', {type: 'standard'})).json.id;
    const customer = (await api('POST', '/v1/customers', {}, {account: acct})).json.id;
    await api('POST', '/v1/payment_intents', {...OFF_SESSION, payment_method: 'pm_card_chargeDeclined'});
    const action = await api('POST', '/v1/payment_intents', {...ON_SESSION, payment_method: 'pm_card_threeDSecure2Required'});
    const ok = await api('POST', '/v1/payment_intents', {...OFF_SESSION, customer}, {account: acct});
    await api('POST', '/v1/refunds', {payment_intent: ok.json.id}, {account: acct});
    await control('POST', `/_test/payment_intents/${action.json.id}/authenticate`, {result: 'succeed'});
    const deliveries = await receivedAtLeast(6);
    const events = deliveries.map((d) => verify(d, secret));
    assert.deepEqual(events.map((e) => e.type), ['payment_intent.payment_failed', 'payment_intent.requires_action',
      'payment_intent.succeeded', 'refund.created', 'charge.refunded', 'payment_intent.succeeded']);
    assert.equal(events[0].data.object.last_payment_error.decline_code, 'generic_decline');
    assert.equal(events[2].account, acct);
    assert.equal(events[3].account, acct);
    assert.equal(events[4].data.object.refunded, true);
    assert.equal(events[0].account, undefined);
  });

  test('a failing endpoint is retried until it answers 2xx', async () => {
    const secret = 'whsec_retry';
    await control('POST', '/_test/webhook', {url: `http://127.0.0.1:${receiver.address().port}/`, secret, backoff_ms: 5});
    respondWith = [500, 503];
    await api('POST', '/v1/payment_intents', OFF_SESSION);
    const deliveries = await receivedAtLeast(3);
    const ids = deliveries.map((d) => verify(d, secret).id);
    assert.equal(new Set(ids).size, 1, 'the same event each time');
    const [event] = await waitFor(async () => {
      const data = (await control('GET', '/_test/events')).data;
      return data[0]?.delivery.state === 'delivered' && data;
    }, 'the delivery record');
    assert.deepEqual(event.delivery.statuses, [500, 503, 200]);
  });

  test('https targets are verified against the given CA', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'stripe-server-test-'));
    t.after(() => rmSync(dir, {recursive: true, force: true}));
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], {encoding: 'utf8'});
    if (gen.status !== 0) {
      t.skip('openssl is not available');
      return;
    }
    const bodies = [];
    const tls = https.createServer({key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem'))}, (req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        bodies.push({headers: req.headers, body});
        res.writeHead(200).end();
      });
    });
    await new Promise((resolve) => tls.listen(0, '127.0.0.1', resolve));
    t.after(() => tls.close());
    const secret = 'whsec_tls';
    await control('POST', '/_test/webhook', {url: `https://127.0.0.1:${tls.address().port}/hook`, secret,
      ca_file: join(dir, 'cert.pem')});
    await api('POST', '/v1/payment_intents', OFF_SESSION);
    await waitFor(() => bodies.length >= 1, 'the https delivery');
    assert.equal(verify(bodies[0], secret).type, 'payment_intent.succeeded');

    // A CA the certificate does not chain to: every attempt fails verification.
    const otherDir = mkdtempSync(join(tmpdir(), 'stripe-server-test-'));
    t.after(() => rmSync(otherDir, {recursive: true, force: true}));
    spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=other',
      '-keyout', join(otherDir, 'key.pem'), '-out', join(otherDir, 'cert.pem')]);
    await control('POST', '/_test/webhook', {url: `https://127.0.0.1:${tls.address().port}/hook`, secret,
      ca_file: join(otherDir, 'cert.pem'), max_attempts: 1});
    await api('POST', '/v1/payment_intents', OFF_SESSION);
    const failed = await waitFor(async () => {
      const data = (await control('GET', '/_test/events')).data;
      return data[1]?.delivery.state === 'failed' && data[1];
    }, 'the failed delivery');
    assert.equal(failed.delivery.attempts, 1);
    assert.equal(bodies.length, 1);
  });
});

describe('control api', () => {
  test('reset clears data but keeps the seeded customer', async () => {
    await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'x'});
    await control('POST', '/_test/reset');
    assert.deepEqual(await allPaymentIntents(), []);
    assert.deepEqual(await control('GET', '/_test/requests'), []);
    assert.equal((await api('GET', '/v1/customers/cus_demo')).status, 200);
    const again = await api('POST', '/v1/payment_intents', OFF_SESSION, {key: 'x'});
    assert.equal(again.headers['idempotent-replayed'], undefined);
  });

  test('the 3DS page completes the challenge and redirects to the return_url', async () => {
    const pi = (await api('POST', '/v1/payment_intents', {amount: '1500', currency: 'usd', customer: 'cus_demo',
      confirm: 'true', payment_method: 'pm_card_authenticationRequired', return_url: 'https://shop.example/thanks?x=1'})).json;
    assert.equal(pi.status, 'requires_action');
    assert.equal(pi.next_action.type, 'redirect_to_url');
    const page = new URL(pi.next_action.redirect_to_url.url);
    const res = await request('GET', page.pathname);
    assert.equal(res.status, 302);
    const location = new URL(res.headers.location);
    assert.equal(location.origin + location.pathname, 'https://shop.example/thanks');
    assert.equal(location.searchParams.get('redirect_status'), 'succeeded');
    assert.equal(location.searchParams.get('payment_intent'), pi.id);
  });
});
