// The Twilio-compatible test server speaks Twilio's Messages wire format: Basic auth, form
// bodies, Twilio's error objects and codes, segment counts, opt-outs, injected faults, and
// signed status callbacks / inbound webhooks (X-Twilio-Signature per Twilio's algorithm).
// Run: node --test tests/sms_server/
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

import {segmentCount, twilioSignature} from './server.mjs';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'server.mjs');
const SID = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = 'test-auth-token';
const MESSAGES = `/2010-04-01/Accounts/${SID}/Messages.json`;
const SENDER = '+15005550006';

let child;
let base;
let stderr = '';

function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    proc.stderr.on('data', (d) => {
      stderr += d;
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (\d+)\n/.exec(out);
      if (m) resolve({proc, port: Number(m[1])});
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

before(async () => {
  const started = await startServer(['--account-sid', SID, '--auth-token', TOKEN]);
  child = started.proc;
  base = `http://127.0.0.1:${started.port}`;
});

after(() => child?.kill('SIGTERM'));

beforeEach(async () => {
  await control('POST', '/_test/reset');
});

// One HTTP exchange: {status, headers, text, json}, or {error} when the connection closed
// without an answer.
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

function basic(user = SID, password = TOKEN) {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

function encode(params) {
  return Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function send(params, {auth = basic(), path = MESSAGES, timeoutMs} = {}) {
  const headers = {'Content-Type': 'application/x-www-form-urlencoded'};
  if (auth) headers.Authorization = auth;
  return request('POST', path, {body: encode(params), headers, timeoutMs});
}

async function control(method, path, body) {
  const r = await request(method, path, {body: body === undefined ? undefined : JSON.stringify(body),
    headers: {'Content-Type': 'application/json'}});
  assert.ok(!r.error, `${method} ${path}: ${r.error?.message}`);
  return r;
}

async function messages() {
  return (await control('GET', '/_test/messages')).json.messages;
}

// A loopback receiver that records every request and answers with `reply`.
async function receiver(reply = {status: 200, type: 'text/plain', body: ''}, tls = null) {
  const seen = [];
  const handler = (req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      text += d;
    });
    req.on('end', () => {
      seen.push({method: req.method, url: req.url, headers: req.headers, body: text});
      res.writeHead(reply.status, {'Content-Type': reply.type});
      res.end(reply.body);
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = tls ? 'https' : 'http';
  return {seen, url: (path) => `${scheme}://127.0.0.1:${server.address().port}${path}`,
    close: () => new Promise((resolve) => server.close(resolve))};
}

function verify(url, body, signature, token = TOKEN) {
  return twilioSignature(token, url, [...new URLSearchParams(body)]) === signature;
}

describe('signature and segments', () => {
  test("Twilio's documented signature vector", () => {
    const params = [['CallSid', 'CA1234567890ABCDE'], ['Caller', '+12349013030'], ['Digits', '1234'],
      ['From', '+12349013030'], ['To', '+18005551212']];
    assert.equal(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params),
      '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    // Order of arrival does not matter; the text signed is sorted.
    assert.equal(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', [...params].reverse()),
      '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    const expected = createHmac('sha1', 't').update('https://x/yA1A2B0').digest('base64');
    assert.equal(twilioSignature('t', 'https://x/y', [['B', '0'], ['A', '2'], ['A', '1']]), expected);
  });

  test('GSM-7 and UCS-2 segment counts', () => {
    assert.equal(segmentCount('a'.repeat(160)), 1);
    assert.equal(segmentCount('a'.repeat(161)), 2);
    assert.equal(segmentCount('a'.repeat(306)), 2);
    assert.equal(segmentCount('a'.repeat(307)), 3);
    assert.equal(segmentCount('€'.repeat(80)), 1);       // 160 septets
    assert.equal(segmentCount('€'.repeat(81)), 2);
    assert.equal(segmentCount('a' + '€'.repeat(76)), 1);  // 153 septets still fit one SMS
    assert.equal(segmentCount('é'.repeat(160)), 1);      // é is in the GSM basic set
    assert.equal(segmentCount('’'.repeat(70)), 1);       // a curly quote forces UCS-2
    assert.equal(segmentCount('’'.repeat(71)), 2);
    assert.equal(segmentCount('😀'.repeat(35)), 1);      // 70 UTF-16 units
    assert.equal(segmentCount('😀'.repeat(36)), 2);
    // 134 UTF-16 units fit two 67-unit parts only by splitting a surrogate pair, which is never done.
    assert.equal(segmentCount('aa' + '😀'.repeat(66)), 3);
  });
});

describe('messages API', () => {
  test('a send creates a queued message with Twilio fields', async () => {
    const r = await send({To: '+15558675310', From: SENDER, Body: 'Hello from Acme', StatusCallback: 'https://127.0.0.1:9/cb'});
    assert.equal(r.status, 201, r.text);
    const m = r.json;
    assert.match(m.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(m.account_sid, SID);
    assert.equal(m.to, '+15558675310');
    assert.equal(m.from, SENDER);
    assert.equal(m.body, 'Hello from Acme');
    assert.equal(m.status, 'queued');
    assert.equal(m.num_segments, '1');
    assert.equal(m.api_version, '2010-04-01');
    assert.equal(m.error_code, null);
    assert.equal(m.direction, 'outbound-api');
    assert.match(m.date_created, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    assert.equal(m.uri, `/2010-04-01/Accounts/${SID}/Messages/${m.sid}.json`);
    const stored = await messages();
    assert.equal(stored.length, 1);
    assert.deepEqual(stored[0].params, [['To', '+15558675310'], ['From', SENDER], ['Body', 'Hello from Acme'],
      ['StatusCallback', 'https://127.0.0.1:9/cb']]);
    const fetched = await request('GET', `/2010-04-01/Accounts/${SID}/Messages/${m.sid}.json`, {headers: {Authorization: basic()}});
    assert.equal(fetched.status, 200);
    assert.equal(fetched.json.sid, m.sid);
    const listed = await request('GET', `${MESSAGES}?To=${encodeURIComponent('+15558675310')}`, {headers: {Authorization: basic()}});
    assert.deepEqual(listed.json.messages.map((x) => x.sid), [m.sid]);
  });

  test('a long or non-GSM body reports its segments', async () => {
    const long = await send({To: '+15558675310', From: SENDER, Body: 'x'.repeat(200)});
    assert.equal(long.json.num_segments, '2');
    const ucs2 = await send({To: '+15558675310', From: SENDER, Body: 'Deal 😀 '.repeat(10)});
    assert.equal(ucs2.json.num_segments, '2');
  });

  test('a Messaging Service send is accepted without a sender yet', async () => {
    const service = 'MG' + 'a'.repeat(32);
    const r = await send({To: '+15558675310', MessagingServiceSid: service, Body: 'Hi'});
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.status, 'accepted');
    assert.equal(r.json.messaging_service_sid, service);
    assert.equal(r.json.from, null);
    assert.equal(r.json.num_segments, '0');
  });

  test('wrong or missing credentials get 401 code 20003 and another account 404', async () => {
    for (const auth of [null, basic(SID, 'wrong'), 'Bearer ' + TOKEN]) {
      const r = await send({To: '+15558675310', From: SENDER, Body: 'Hi'}, {auth});
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 20003);
      assert.equal(r.json.status, 401);
      assert.equal(r.json.more_info, 'https://www.twilio.com/docs/errors/20003');
    }
    const other = await send({To: '+15558675310', From: SENDER, Body: 'Hi'},
      {path: `/2010-04-01/Accounts/AC${'f'.repeat(32)}/Messages.json`});
    assert.equal(other.status, 404);
    assert.equal((await messages()).length, 0);
  });

  test('invalid requests get Twilio error codes', async () => {
    const cases = [
      [{From: SENDER, Body: 'Hi'}, 21604],
      [{To: '5558675310', From: SENDER, Body: 'Hi'}, 21211],
      [{To: '+0123', From: SENDER, Body: 'Hi'}, 21211],
      [{To: '+15558675310', Body: 'Hi'}, 21603],
      [{To: '+15558675310', From: SENDER}, 21602],
      [{To: '+15558675310', From: SENDER, Body: ''}, 21602],
      [{To: '+15558675310', From: SENDER, Body: 'x'.repeat(1601)}, 21617],
      [{To: '+15558675310', From: SENDER, Body: 'Hi', StatusCallback: 'not a url'}, 21609],
      [{To: '+15005550001', From: SENDER, Body: 'Hi'}, 21211],
      [{To: '+15005550009', From: SENDER, Body: 'Hi'}, 21614],
    ];
    for (const [params, code] of cases) {
      const r = await send(params);
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.equal(r.json.code, code, JSON.stringify(params));
      assert.equal(r.json.status, 400);
      assert.ok(r.json.message);
    }
    assert.equal((await messages()).length, 0);
  });

  test('an opted-out number and the magic +15005550004 get 21610', async () => {
    await control('POST', '/_test/optout', {number: '+15558675310'});
    for (const to of ['+15558675310', '+15005550004']) {
      const r = await send({To: to, From: SENDER, Body: 'Hi'});
      assert.equal(r.status, 400);
      assert.equal(r.json.code, 21610);
      assert.equal(r.json.more_info, 'https://www.twilio.com/docs/errors/21610');
    }
    assert.equal((await send({To: '+15558675311', From: SENDER, Body: 'Hi'})).status, 201);
    await control('POST', '/_test/optin', {number: '+15558675310'});
    assert.equal((await send({To: '+15558675310', From: SENDER, Body: 'Hi'})).status, 201);
  });
});

describe('faults', () => {
  const ok = {To: '+15558675310', From: SENDER, Body: 'Hi'};

  test('429 for the next n sends creates nothing', async () => {
    assert.equal((await control('POST', '/_test/faults', {status: 429, times: 2})).status, 200);
    for (let i = 0; i < 2; ++i) {
      const r = await send(ok);
      assert.equal(r.status, 429);
      assert.equal(r.json.code, 20429);
    }
    assert.equal((await messages()).length, 0);
    assert.equal((await send(ok)).status, 201);
    assert.equal((await messages()).length, 1);
  });

  test('500 and 503 create nothing unless asked to', async () => {
    await control('POST', '/_test/faults', {status: 500});
    await control('POST', '/_test/faults', {status: 503, create: true});
    assert.equal((await send(ok)).status, 500);
    assert.equal((await messages()).length, 0);
    const r = await send(ok);
    assert.equal(r.status, 503);
    assert.equal(r.json.status, 503);
    assert.equal((await messages()).length, 1);
  });

  test('a timeout creates the message and never answers', async () => {
    await control('POST', '/_test/faults', {timeout: true});
    const r = await send(ok, {timeoutMs: 300});
    assert.equal(r.error?.message, 'client timeout');
    const stored = await messages();
    assert.equal(stored.length, 1);
    const requests = (await control('GET', '/_test/requests')).json.requests;
    assert.equal(requests[0].fault, 'timeout');
    assert.equal(requests[0].status, null);
    assert.equal(requests[0].created, stored[0].sid);
  });

  test('drop_after creates the message and closes the connection', async () => {
    await control('POST', '/_test/faults', {drop_after: true});
    const r = await send(ok);
    assert.ok(r.error, 'the connection should close without an answer');
    assert.equal((await messages()).length, 1);
  });

  test('bad fault rules are refused', async () => {
    assert.equal((await control('POST', '/_test/faults', {status: 404})).status, 400);
    assert.equal((await control('POST', '/_test/faults', {})).status, 400);
    assert.equal((await control('POST', '/_test/faults', {timeout: true, drop_after: true})).status, 400);
    assert.equal((await control('POST', '/_test/faults', {status: 429, times: 0})).status, 400);
  });
});

describe('webhooks', () => {
  test('deliver posts a signed status callback and returns its answer', async () => {
    const rx = await receiver({status: 204, type: 'text/plain', body: ''});
    try {
      const callback = rx.url('/webhooks/sms/status?shop=demo');
      const sent = await send({To: '+15558675310', From: SENDER, Body: 'Hi', StatusCallback: callback});
      const r = await control('POST', '/_test/deliver', {sid: sent.json.sid, status: 'undelivered', error_code: 30003});
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 204);
      assert.equal(rx.seen.length, 1);
      const got = rx.seen[0];
      assert.equal(got.method, 'POST');
      assert.equal(got.url, '/webhooks/sms/status?shop=demo');
      assert.match(got.headers['content-type'], /^application\/x-www-form-urlencoded/);
      assert.ok(got.headers['i-twilio-idempotency-token']);
      assert.ok(verify(callback, got.body, got.headers['x-twilio-signature']));
      assert.ok(!verify(callback + '&x=1', got.body, got.headers['x-twilio-signature']));
      assert.ok(!verify(callback, got.body, got.headers['x-twilio-signature'], 'other-token'));
      const p = Object.fromEntries(new URLSearchParams(got.body));
      assert.equal(p.MessageSid, sent.json.sid);
      assert.equal(p.MessageStatus, 'undelivered');
      assert.equal(p.ErrorCode, '30003');
      assert.equal(p.AccountSid, SID);
      assert.equal(p.From, SENDER);
      assert.equal(p.To, '+15558675310');
      assert.equal(p.ApiVersion, '2010-04-01');
      assert.match(p.RawDlrDoneDate, /^\d{10}$/);
      const stored = await messages();
      assert.equal(stored[0].status, 'undelivered');
      assert.deepEqual(stored[0].statuses, ['undelivered']);
    } finally {
      await rx.close();
    }
  });

  test('deliver refuses an unknown sid and a message without a callback', async () => {
    assert.equal((await control('POST', '/_test/deliver', {sid: 'SM' + '0'.repeat(32), status: 'delivered'})).status, 404);
    const sent = await send({To: '+15558675310', From: SENDER, Body: 'Hi'});
    assert.equal((await control('POST', '/_test/deliver', {sid: sent.json.sid, status: 'delivered'})).status, 409);
    assert.equal((await control('POST', '/_test/deliver', {sid: sent.json.sid, status: 'lost'})).status, 400);
  });

  test('inbound posts a signed incoming message and returns the TwiML answer', async () => {
    const twiml = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Acme: help at acme.test</Message></Response>';
    const rx = await receiver({status: 200, type: 'text/xml', body: twiml});
    try {
      const url = rx.url('/webhooks/sms');
      const r = await control('POST', '/_test/inbound', {from: '+15558675310', to: SENDER, body: 'HELP please', url});
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 200);
      assert.equal(r.json.content_type, 'text/xml');
      assert.equal(r.json.body, twiml);
      const got = rx.seen[0];
      assert.ok(verify(url, got.body, got.headers['x-twilio-signature']));
      const p = Object.fromEntries(new URLSearchParams(got.body));
      assert.equal(p.Body, 'HELP please');
      assert.equal(p.From, '+15558675310');
      assert.equal(p.To, SENDER);
      assert.equal(p.AccountSid, SID);
      assert.equal(p.NumMedia, '0');
      assert.match(p.MessageSid, /^SM[0-9a-f]{32}$/);
      // sign_with forges a signature under another token.
      await control('POST', '/_test/inbound', {from: '+15558675310', to: SENDER, body: 'STOP', url, sign_with: 'forged'});
      assert.ok(!verify(url, rx.seen[1].body, rx.seen[1].headers['x-twilio-signature']));
    } finally {
      await rx.close();
    }
  });

  test('callbacks reach an https target with a self-signed certificate', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-server-tls-'));
    try {
      const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
        '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], {stdio: 'ignore'});
      if (gen.status !== 0) {
        t.skip('openssl is not available');
        return;
      }
      const rx = await receiver({status: 200, type: 'text/plain', body: 'ok'},
        {key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem'))});
      try {
        const url = rx.url('/webhooks/sms');
        const r = await control('POST', '/_test/inbound', {from: '+15558675310', to: SENDER, body: 'START', url});
        assert.equal(r.json.status, 200, r.text);
        assert.ok(verify(url, rx.seen[0].body, rx.seen[0].headers['x-twilio-signature']));
      } finally {
        await rx.close();
      }
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });

  test('callbacks only go to loopback and an unreachable target is 502', async () => {
    const r = await control('POST', '/_test/inbound', {from: '+15558675310', to: SENDER, body: 'x', url: 'https://example.com/hook'});
    assert.equal(r.status, 400);
    const rx = await receiver();
    const url = rx.url('/gone');
    await rx.close();
    const gone = await control('POST', '/_test/inbound', {from: '+15558675310', to: SENDER, body: 'x', url});
    assert.equal(gone.status, 502);
  });
});
