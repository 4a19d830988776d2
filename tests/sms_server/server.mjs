#!/usr/bin/env node
// A Twilio-compatible Messaging API server for tests (2010-04-01 Messages resource, in memory,
// loopback only). See README.md in this directory for what it implements.
//
//   node server.mjs [--port 0] [--host 127.0.0.1] --account-sid AC… (--auth-token T | --auth-token-env NAME)
//
// Prints exactly one line, `listening <port>`, to stdout once it accepts connections; logs one
// line per request to stderr; exits on SIGTERM / SIGINT.
import {createHmac, randomBytes, randomUUID, timingSafeEqual} from 'node:crypto';
import {realpathSync} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import {pathToFileURL} from 'node:url';

const API_VERSION = '2010-04-01';
const CALLBACK_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1 << 20;

// ---- Command line ------------------------------------------------------------------------------

function usage(message) {
  process.stderr.write(`${message}\nusage: node server.mjs [--port N] [--host 127.0.0.1] --account-sid AC… (--auth-token T | --auth-token-env NAME)\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {port: 0, host: '127.0.0.1', accountSid: '', authToken: ''};
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const [name, inline] = eq >= 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) usage(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case '--port': opts.port = Number(value()); break;
      case '--host': opts.host = value(); break;
      case '--account-sid': opts.accountSid = value(); break;
      case '--auth-token': opts.authToken = value(); break;
      // Names an environment variable holding the token, so it never shows in `ps`.
      case '--auth-token-env': opts.authToken = process.env[value()] || ''; break;
      default: usage(`unknown argument ${arg}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('--port must be 0..65535');
  // Loopback only: this server has no real authentication and must never face a network.
  if (!['127.0.0.1', '::1', 'localhost'].includes(opts.host)) usage('--host must be a loopback address');
  if (!/^AC[0-9a-zA-Z]+$/.test(opts.accountSid)) usage('--account-sid must be AC followed by letters and digits');
  if (!opts.authToken) usage('--auth-token (or --auth-token-env) is required');
  return opts;
}

// ---- Twilio formats ----------------------------------------------------------------------------

// Twilio's webhook signature: base64 HMAC-SHA1 under the auth token of the URL followed by every
// parameter as name + value, sorted by name and then value (byte order).
export function twilioSignature(token, url, pairs) {
  const sorted = [...pairs].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])) ||
    Buffer.compare(Buffer.from(a[1]), Buffer.from(b[1])));
  let text = url;
  for (const [k, v] of sorted) text += k + v;
  return createHmac('sha1', token).update(text, 'utf8').digest('base64');
}

// GSM 03.38 basic character set and the extension table (each extension char costs 2 septets).
const GSM_BASIC = new Set([...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà']);
const GSM_EXTENDED = new Set([...'^{}\\[~]|€\f']);

// Segments as a handset would split the text: GSM-7 (160 single, 153 per part, an escape pair
// never split) when every character is in the GSM set, else UCS-2 (70 single, 67 per part, a
// surrogate pair never split).
export function segmentCount(body) {
  const chars = [...body];
  if (chars.every((c) => GSM_BASIC.has(c) || GSM_EXTENDED.has(c))) {
    const costs = chars.map((c) => (GSM_EXTENDED.has(c) ? 2 : 1));
    return pack(costs, 160, 153);
  }
  return pack(chars.map((c) => c.length), 70, 67);  // UTF-16 code units per character
}

function pack(costs, single, part) {
  const total = costs.reduce((a, b) => a + b, 0);
  if (total <= single) return 1;
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > part) {
      ++segments;
      used = 0;
    }
    used += cost;
  }
  return segments;
}

const E164 = /^\+[1-9]\d{1,14}$/;

// Twilio's magic test numbers (spec §3.1) as recipients.
const MAGIC_TO = {
  '+15005550001': [21211, (to) => `The 'To' number ${to} is not a valid phone number.`],
  '+15005550002': [21612, () => "The 'To' phone number is not currently reachable via SMS."],
  '+15005550003': [21408, () => 'Permission to send an SMS has not been enabled for the region indicated by the \'To\' number.'],
  '+15005550004': [21610, () => 'Attempt to send to unsubscribed recipient'],
  '+15005550009': [21614, (to) => `'To' number ${to} is not a valid mobile number`],
};

function twilioError(status, code, message) {
  return {status, body: {code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status}};
}

function rfc2822(date) {
  return date.toUTCString().replace('GMT', '+0000');
}

function newSid(prefix) {
  return prefix + randomBytes(16).toString('hex');
}

// application/x-www-form-urlencoded -> [[name, value], ...] in arrival order.
function parseForm(text) {
  return [...new URLSearchParams(text)];
}

function formEncode(pairs) {
  return pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function isLoopback(hostname) {
  return ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(hostname);
}

// ---- State ---------------------------------------------------------------------------------

class State {
  constructor() {
    this.reset();
  }

  reset() {
    this.messages = [];      // every created message, oldest first
    this.requests = [];      // every API request: {method, path, status, fault, params}
    this.optedOut = new Set();
    this.faults = [];        // {status, times, timeout, drop_after, create}
    this.callbacks = [];     // every signed POST we made: {kind, url, status, error, params}
  }

  // The next fault for a create request, consuming one of its `times`.
  takeFault() {
    const f = this.faults[0];
    if (!f) return null;
    if (--f.remaining <= 0) this.faults.shift();
    return f;
  }
}

// ---- The server ----------------------------------------------------------------------------

class App {
  constructor(opts) {
    this.accountSid = opts.accountSid;
    this.authToken = opts.authToken;
    this.state = new State();
    this.baseUrl = '';
  }

  log(line) {
    process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  }

  async handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const raw = await readBody(req);
    if (url.pathname.startsWith('/_test/')) {
      const out = await this.control(req.method, url.pathname, raw);
      this.log(`${req.method} ${url.pathname} -> ${out.status}`);
      return sendJson(res, out.status, out.body);
    }
    return this.api(req, res, url, raw);
  }

  // ---- Messages API

  async api(req, res, url, raw) {
    const record = {method: req.method, path: url.pathname, status: null, fault: null, params: null, created: null};
    this.state.requests.push(record);
    const answer = (out) => {
      record.status = out.status;
      this.log(`${req.method} ${url.pathname} -> ${out.status}${out.body?.code ? ` (${out.body.code})` : ''}`);
      return sendJson(res, out.status, out.body);
    };

    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages(?:\/([^/]+))?\.json$/.exec(url.pathname);
    if (!m) return answer(twilioError(404, 20404, `The requested resource ${url.pathname} was not found`));
    if (!this.authorised(req)) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Twilio API"');
      return answer(twilioError(401, 20003, 'Authenticate'));
    }
    const [, account, messageSid] = m;
    if (account !== this.accountSid) {
      return answer(twilioError(404, 20404, `The requested resource ${url.pathname} was not found`));
    }
    if (req.method === 'GET' && messageSid) {
      const msg = this.state.messages.find((x) => x.sid === messageSid);
      return answer(msg ? {status: 200, body: this.resource(msg)} : twilioError(404, 20404, `The requested resource ${url.pathname} was not found`));
    }
    if (req.method === 'GET') {
      const to = url.searchParams.get('To');
      const list = this.state.messages.filter((x) => !to || x.to === to).reverse();  // newest first
      return answer({status: 200, body: {messages: list.map((x) => this.resource(x)), uri: url.pathname + url.search,
        page: 0, page_size: 50, first_page_uri: url.pathname, next_page_uri: null, previous_page_uri: null, start: 0, end: Math.max(0, list.length - 1)}});
    }
    if (req.method !== 'POST' || messageSid) return answer(twilioError(405, 20004, 'Method not allowed'));

    const params = parseForm(raw);
    record.params = params;
    const p = Object.fromEntries(params);  // the last value of a repeated name wins
    const invalid = this.validate(p);
    if (invalid) return answer(invalid);

    const fault = this.state.takeFault();
    if (fault) {
      record.fault = fault.kind;
      if (fault.status) {
        if (fault.create) this.create(p, record);
        const status = fault.status;
        return answer(status === 429 ? twilioError(429, 20429, 'Too Many Requests')
          : twilioError(status, status === 503 ? 20503 : 20500, status === 503 ? 'Service Unavailable' : 'Internal Server Error'));
      }
      // Both remaining kinds happen after Twilio created the message: the client cannot know.
      const msg = this.create(p, record);
      if (fault.drop_after) {
        this.log(`POST ${url.pathname} -> created ${msg.sid}, connection dropped`);
        req.socket.destroy();
        return;
      }
      this.log(`POST ${url.pathname} -> created ${msg.sid}, holding the answer`);
      await new Promise((resolve) => {
        res.on('close', resolve);
        req.socket.on('close', resolve);
      });
      return;
    }
    return answer({status: 201, body: this.resource(this.create(p, record))});
  }

  authorised(req) {
    const h = req.headers.authorization || '';
    if (!h.startsWith('Basic ')) return false;
    const expected = Buffer.from(`${this.accountSid}:${this.authToken}`);
    const got = Buffer.from(h.slice(6).trim(), 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  }

  // A Twilio error for the request, or null when it may create a message.
  validate(p) {
    if (!p.To) return twilioError(400, 21604, "A 'To' phone number is required.");
    if (!E164.test(p.To)) return twilioError(400, 21211, `The 'To' number ${p.To} is not a valid phone number.`);
    if (!p.From && !p.MessagingServiceSid) return twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.");
    if (p.MessagingServiceSid && !/^MG[0-9a-fA-F]{32}$/.test(p.MessagingServiceSid)) {
      return twilioError(400, 21701, `The Messaging Service Sid ${p.MessagingServiceSid} is invalid.`);
    }
    if (!p.Body && !p.MediaUrl) return twilioError(400, 21602, 'Message body is required.');
    if ((p.Body || '').length > 1600) return twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    if (p.StatusCallback !== undefined) {
      let ok = false;
      try {
        const u = new URL(p.StatusCallback);
        ok = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
      if (!ok) return twilioError(400, 21609, 'Invalid StatusCallback url.');
    }
    if (MAGIC_TO[p.To]) {
      const [code, text] = MAGIC_TO[p.To];
      return twilioError(400, code, text(p.To));
    }
    if (this.state.optedOut.has(p.To)) return twilioError(400, 21610, 'Attempt to send to unsubscribed recipient');
    return null;
  }

  // Stores a message for the request `record` (which then names it).
  create(p, record) {
    const now = new Date();
    const service = p.MessagingServiceSid || null;
    const msg = {
      sid: newSid('SM'),
      to: p.To,
      // With a Messaging Service the sender is picked later: no from, no segments yet (spec §3.1).
      from: service ? null : p.From,
      messaging_service_sid: service,
      body: p.Body || '',
      status: service ? 'accepted' : 'queued',
      num_segments: service ? 0 : segmentCount(p.Body || ''),
      status_callback: p.StatusCallback || null,
      date_created: now,
      error_code: null,
      statuses: [],  // every status /_test/deliver reported
    };
    this.state.messages.push(msg);
    record.created = msg.sid;
    return msg;
  }

  // The message as Twilio's API shows it.
  resource(msg) {
    const uri = `/${API_VERSION}/Accounts/${this.accountSid}/Messages/${msg.sid}.json`;
    return {
      account_sid: this.accountSid,
      api_version: API_VERSION,
      body: msg.body,
      date_created: rfc2822(msg.date_created),
      date_sent: null,
      date_updated: rfc2822(msg.date_created),
      direction: 'outbound-api',
      error_code: msg.error_code,
      error_message: null,
      from: msg.from,
      messaging_service_sid: msg.messaging_service_sid,
      num_media: '0',
      num_segments: String(msg.num_segments),
      price: null,
      price_unit: 'USD',
      sid: msg.sid,
      status: msg.status,
      subresource_uris: {media: uri.replace('.json', '/Media.json')},
      to: msg.to,
      uri,
    };
  }

  // ---- Control API

  async control(method, path, raw) {
    let body = {};
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return {status: 400, body: {error: 'the body must be JSON'}};
      }
    }
    const is = (m, p) => method === m && path === p;
    const s = this.state;
    if (is('GET', '/_test/messages')) {
      return {status: 200, body: {messages: s.messages.map((x) => ({...this.resource(x), status_callback: x.status_callback,
        statuses: x.statuses, params: s.requests.find((r) => r.created === x.sid)?.params ?? null}))}};
    }
    if (is('DELETE', '/_test/messages')) {
      s.messages = [];
      s.requests = [];
      s.callbacks = [];
      return {status: 200, body: {messages: []}};
    }
    if (is('GET', '/_test/requests')) return {status: 200, body: {requests: s.requests}};
    if (is('GET', '/_test/callbacks')) return {status: 200, body: {callbacks: s.callbacks}};
    if (is('POST', '/_test/reset')) {
      s.reset();
      return {status: 200, body: {}};
    }
    if (is('POST', '/_test/optout')) {
      if (!E164.test(body.number || '')) return {status: 400, body: {error: 'number must be E.164'}};
      s.optedOut.add(body.number);
      return {status: 200, body: {opted_out: [...s.optedOut]}};
    }
    if (is('POST', '/_test/optin')) {  // the number replied START
      s.optedOut.delete(body.number);
      return {status: 200, body: {opted_out: [...s.optedOut]}};
    }
    if (is('POST', '/_test/faults')) {
      const f = {status: body.status ?? 0, times: body.times ?? 1, timeout: !!body.timeout,
        drop_after: !!body.drop_after, create: !!body.create};
      const kinds = [f.status ? 1 : 0, f.timeout ? 1 : 0, f.drop_after ? 1 : 0].reduce((a, b) => a + b);
      if (kinds !== 1) return {status: 400, body: {error: 'give exactly one of status, timeout, drop_after'}};
      if (f.status && ![429, 500, 502, 503, 504].includes(f.status)) return {status: 400, body: {error: 'status must be 429, 500, 502, 503 or 504'}};
      if (!Number.isInteger(f.times) || f.times < 1) return {status: 400, body: {error: 'times must be a positive integer'}};
      f.kind = f.status ? String(f.status) : f.timeout ? 'timeout' : 'drop_after';
      f.remaining = f.times;
      s.faults.push(f);
      return {status: 200, body: {faults: s.faults}};
    }
    if (is('DELETE', '/_test/faults')) {
      s.faults = [];
      return {status: 200, body: {faults: []}};
    }
    if (is('POST', '/_test/deliver')) return this.deliver(body);
    if (is('POST', '/_test/inbound')) return this.inbound(body);
    return {status: 404, body: {error: `no control endpoint ${method} ${path}`}};
  }

  // A delivery report for one message, POSTed (signed) to its StatusCallback.
  async deliver(body) {
    const msg = this.state.messages.find((x) => x.sid === body.sid);
    if (!msg) return {status: 404, body: {error: `no message ${body.sid}`}};
    const statuses = ['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'read', 'canceled'];
    if (!statuses.includes(body.status)) return {status: 400, body: {error: `status must be one of ${statuses.join(', ')}`}};
    if (!msg.status_callback) return {status: 409, body: {error: `message ${msg.sid} has no StatusCallback`}};
    msg.status = body.status;
    if (body.error_code) msg.error_code = Number(body.error_code);
    msg.statuses.push(body.status);
    const params = [
      ['AccountSid', this.accountSid],
      ['ApiVersion', API_VERSION],
      ['From', msg.from ?? '+15005550006'],
      ['MessageSid', msg.sid],
      ['MessageStatus', body.status],
      ['SmsSid', msg.sid],
      ['SmsStatus', body.status],
      ['To', msg.to],
    ];
    if (msg.messaging_service_sid) params.push(['MessagingServiceSid', msg.messaging_service_sid]);
    if (body.error_code) params.push(['ErrorCode', String(body.error_code)]);
    if (['delivered', 'undelivered'].includes(body.status)) {
      const d = new Date();
      const two = (n) => String(n).padStart(2, '0');
      params.push(['RawDlrDoneDate', `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}`]);
    }
    return this.post('status', msg.status_callback, params, body.sign_with);
  }

  // An inbound text from `from` to `to`, POSTed (signed) to `url` as Twilio's incoming-message
  // webhook; answers with our app's reply so a test can read the TwiML.
  async inbound(body) {
    if (!E164.test(body.from || '')) return {status: 400, body: {error: 'from must be E.164'}};
    if (!body.to) return {status: 400, body: {error: 'to is required'}};
    if (typeof body.body !== 'string') return {status: 400, body: {error: 'body is required'}};
    if (!body.url) return {status: 400, body: {error: 'url is required'}};
    const sid = newSid('SM');
    const params = [
      ['AccountSid', this.accountSid],
      ['ApiVersion', API_VERSION],
      ['Body', body.body],
      ['From', body.from],
      ['MessageSid', sid],
      ['NumMedia', '0'],
      ['NumSegments', String(segmentCount(body.body || ' '))],
      ['SmsMessageSid', sid],
      ['SmsSid', sid],
      ['SmsStatus', 'received'],
      ['To', body.to],
    ];
    return this.post('inbound', body.url, params, body.sign_with);
  }

  // POSTs `params` form-encoded to `url` with X-Twilio-Signature (under the auth token, or
  // `signWith` to fake a forgery). Answers {status, body: {status, content_type, body}} with the
  // target's answer, or 502 when it could not be reached.
  async post(kind, target, params, signWith) {
    let url;
    try {
      url = new URL(target);
    } catch {
      return {status: 400, body: {error: 'the target URL is malformed'}};
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return {status: 400, body: {error: 'the target must be http(s)'}};
    // Loopback only, like the server itself: a test must never reach the network.
    if (!isLoopback(url.hostname)) return {status: 400, body: {error: 'the target must be a loopback address'}};
    const payload = formEncode(params);
    const signature = twilioSignature(signWith || this.authToken, target, params);
    const row = {kind, url: target, status: 0, error: null, params};
    this.state.callbacks.push(row);
    try {
      const answer = await postForm(url, payload, signature);
      row.status = answer.status;
      this.log(`${kind} callback ${target} -> ${answer.status}`);
      return {status: 200, body: answer};
    } catch (e) {
      row.error = e.message;
      this.log(`${kind} callback ${target} failed: ${e.message}`);
      return {status: 502, body: {error: e.message}};
    }
  }
}

function postForm(url, payload, signature) {
  const options = {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
      'Content-Length': Buffer.byteLength(payload),
      'User-Agent': 'TwilioProxy/1.1',
      'Accept': '*/*',
      'X-Twilio-Signature': signature,
      'I-Twilio-Idempotency-Token': randomUUID(),
    },
    timeout: CALLBACK_TIMEOUT_MS,
    // One connection per webhook, closed after it: a kept-alive socket would hold up the
    // target's shutdown in tests.
    agent: false,
  };
  let transport = http;
  if (url.protocol === 'https:') {
    transport = https;
    options.rejectUnauthorized = false;  // loopback targets only (checked by the caller)
  }
  return new Promise((resolve, reject) => {
    const req = transport.request(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({status: res.statusCode, content_type: res.headers['content-type'] ?? null, body: text}));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        reject(new Error('body too large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text)});
  res.end(text);
}

// ---- Main ----------------------------------------------------------------------------------

// Run as a program (not imported by the protocol test for twilioSignature / segmentCount).
const isMain = !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) {
  const opts = parseArgs(process.argv.slice(2));
  const app = new App(opts);
  const server = http.createServer((req, res) => {
    app.handle(req, res).catch((e) => {
      process.stderr.write(`internal error: ${e.stack}\n`);
      if (!res.headersSent) sendJson(res, 500, {code: 20500, message: 'Internal Server Error', status: 500});
      else res.destroy();
    });
  });
  process.stdout.on('error', () => {});  // the reader may close its end after the first line
  server.on('error', (e) => {
    process.stderr.write(`cannot listen: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const {port} = server.address();
    app.baseUrl = `http://${opts.host === '::1' ? '[::1]' : opts.host}:${port}`;
    process.stdout.write(`listening ${port}\n`);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
}
