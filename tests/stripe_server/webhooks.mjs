// Events and their signed delivery (stripe.md §4).
//
// Every state change worth a webhook creates an Event in the account's partition (readable at
// GET /v1/events). When a webhook endpoint is configured, the event is POSTed to it after the API
// response has been written: JSON body (pretty-printed like Stripe's), signed with
//   Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>,v0=<hex>
// where the secret is used as-is (whsec_ prefix included) and v0 is a decoy signature made with
// another key, as Stripe adds in test mode (verifiers must ignore every scheme but v1).
// Deliveries go out one at a time in creation order; a non-2xx answer or a network error is
// retried with a short backoff, each attempt with a fresh timestamp and signature. Every attempt
// is recorded for GET /_test/events and GET /_test/deliveries.
import {createHmac} from 'node:crypto';
import {readFileSync} from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import {newId, randomToken} from './state.mjs';

export const DEFAULT_API_VERSION = '2025-02-24.acacia';
const ATTEMPT_TIMEOUT_MS = 10_000;

export function sign(secret, timestamp, payload) {
  return createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex');
}

export class Webhooks {
  constructor(clock, log) {
    this.clock = clock;
    this.log = log;
    this.config = null;
    this.reset();
  }

  reset() {
    this.queue = [];
    this.all = [];           // every event, in creation order
    this.deliveries = [];    // every attempt: {event, type, attempt, status, error, url, at}
    this.tracking = new Map();  // event id -> {state, attempts}
    this.generation = (this.generation || 0) + 1;  // deliveries of an older generation stop
    this.pumping = false;
  }

  // {url, secret, ca_file, events: ['*'] | [types], max_attempts, backoff_ms}; null turns
  // delivery off.
  configure(config) {
    if (!config || !config.url) {
      this.config = null;
      return null;
    }
    const url = new URL(config.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('webhook url must be http(s)');
    this.config = {
      url: url.toString(),
      secret: config.secret || `whsec_${randomToken(32)}`,
      ca_file: config.ca_file || null,
      events: config.events && config.events.length ? [...config.events] : ['*'],
      max_attempts: Number.isInteger(config.max_attempts) && config.max_attempts > 0 ? config.max_attempts : 4,
      backoff_ms: Number.isInteger(config.backoff_ms) && config.backoff_ms >= 0 ? config.backoff_ms : 100,
    };
    return this.config;
  }

  // Creates an event. `ctx` is the API request that caused it ({requestId, idempotencyKey,
  // pendingEvents}); `account` is null for the platform. The event is stored at once and sent
  // when the caller flushes ctx.pendingEvents.
  create(ctx, partition, account, type, object) {
    const wanted = this.config && (this.config.events.includes('*') || this.config.events.includes(type));
    const event = {
      id: newId('evt'),
      object: 'event',
      api_version: DEFAULT_API_VERSION,
      created: this.clock.now(),
      data: {object: JSON.parse(JSON.stringify(object))},
      livemode: false,
      pending_webhooks: wanted ? 1 : 0,
      request: {id: ctx.requestId ?? null, idempotency_key: ctx.idempotencyKey ?? null},
      type,
    };
    if (account) event.account = account;
    partition.events.push(event);
    this.all.push({event, account});
    this.tracking.set(event.id, {state: wanted ? 'pending' : 'not_sent', attempts: []});
    if (wanted) ctx.pendingEvents.push({event, config: this.config});
    return event;
  }

  // Queues the events a request produced; called once its response is on the wire.
  flush(pending) {
    for (const item of pending.splice(0)) this.queue.push(item);
    if (!this.pumping) this.#pump(this.generation);
  }

  // Events with their delivery status, for GET /_test/events.
  listWithStatus() {
    return this.all.map(({event}) => {
      const t = this.tracking.get(event.id);
      return {...event, delivery: {state: t.state, attempts: t.attempts.length,
        statuses: t.attempts.map((a) => a.status)}};
    });
  }

  async #pump(generation) {
    this.pumping = true;
    try {
      while (this.queue.length && generation === this.generation) {
        const {event, config} = this.queue.shift();
        await this.#deliver(event, config, generation);
      }
    } finally {
      if (generation === this.generation) this.pumping = false;
    }
  }

  async #deliver(event, config, generation) {
    const track = this.tracking.get(event.id);
    const payload = JSON.stringify(event, null, 2);
    for (let attempt = 1; attempt <= config.max_attempts; ++attempt) {
      if (generation !== this.generation) return;
      const t = this.clock.now();
      const header = `t=${t},v1=${sign(config.secret, t, payload)},v0=${sign('whsec_decoy_v0', t, payload)}`;
      let status = 0;
      let error = null;
      try {
        status = await post(config, payload, header);
      } catch (e) {
        error = e.message;
      }
      const row = {event: event.id, type: event.type, attempt, status, error, url: config.url, at: t};
      track.attempts.push(row);
      this.deliveries.push(row);
      this.log(`webhook ${event.type} ${event.id} attempt ${attempt}: ${error ?? status}`);
      if (status >= 200 && status < 300) {
        track.state = 'delivered';
        event.pending_webhooks = 0;
        return;
      }
      if (attempt < config.max_attempts) {
        await new Promise((resolve) => setTimeout(resolve, config.backoff_ms * 2 ** (attempt - 1)));
      }
    }
    track.state = 'failed';
  }
}

function isLoopback(hostname) {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]' || hostname === '::1';
}

function post(config, payload, signature) {
  const url = new URL(config.url);
  const options = {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(payload),
      'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'Stripe-Signature': signature,
      'Accept': '*/*; q=0.5, application/xml',
      'Cache-Control': 'no-cache',
    },
    timeout: ATTEMPT_TIMEOUT_MS,
  };
  let transport = http;
  if (url.protocol === 'https:') {
    transport = https;
    if (config.ca_file) {
      options.ca = readFileSync(config.ca_file);
    } else if (isLoopback(url.hostname)) {
      options.rejectUnauthorized = false;  // only for loopback targets without a CA file
    }
  }
  return new Promise((resolve, reject) => {
    const req = transport.request(url, options, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
