// Idempotency keys as Stripe documents them (stripe.md §2), which is stricter than
// stripe-stateful-mock:
//   - one record per (account, key), remembering the first request's method, path and params;
//   - while that request executes, the key is in use: a second request gets 409
//     idempotency_key_in_use, and nothing is stored for it;
//   - once it finishes, its status and body are replayed (Idempotent-Replayed: true,
//     Original-Request: <first request id>) — 200s, 402s and 500s alike;
//   - a different endpoint or different params under the key -> 400 idempotency_error;
//   - outcomes that are not stored (parameter validation, 401, 409, 429, 503) free the key;
//   - records expire 24 h after the first request, on the server's (movable) clock.
import {canonical} from './form.mjs';
import {StripeError} from './errors.mjs';

export const KEY_LIFETIME_S = 24 * 60 * 60;
const MAX_KEY_LENGTH = 255;

export class IdempotencyStore {
  constructor(clock) {
    this.clock = clock;
    this.records = new Map();
  }

  reset() {
    this.records.clear();
  }

  #slot(account, key) {
    return `${account || ''}\u0000${key}`;
  }

  // Called before the endpoint runs. Returns {kind: 'new', record} (the key is now in use),
  // {kind: 'replay', record}, or throws a StripeError (not stored) for misuse.
  begin(account, key, method, path, params, requestId) {
    if (key.length > MAX_KEY_LENGTH) {
      throw new StripeError(400, {
        type: 'invalid_request_error',
        message: `Invalid Idempotency-Key: keys must be at most ${MAX_KEY_LENGTH} characters long.`,
      }, {stored: false});
    }
    const slot = this.#slot(account, key);
    let record = this.records.get(slot);
    if (record && this.clock.now() - record.created >= KEY_LIFETIME_S) {
      this.records.delete(slot);  // pruned: the key starts a new request
      record = undefined;
    }
    const fingerprint = canonical(params);
    if (record) {
      if (record.method !== method || record.path !== path) {
        throw new StripeError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${record.method} ${record.path}' vs '${method} ${path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        }, {stored: false, headers: {'Stripe-Should-Retry': 'false'}});
      }
      if (record.fingerprint !== fingerprint) {
        throw new StripeError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        }, {stored: false, headers: {'Stripe-Should-Retry': 'false'}});
      }
      if (record.state === 'in_flight') {
        throw new StripeError(409, {
          type: 'invalid_request_error',
          code: 'idempotency_key_in_use',
          doc_url: 'https://stripe.com/docs/error-codes/idempotency-key-in-use',
          message: 'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ' +
            `${key}. Please try again later.`,
        }, {stored: false, headers: {'Stripe-Should-Retry': 'true'}});
      }
      return {kind: 'replay', record};
    }
    record = {
      account: account || null, key, method, path, fingerprint, state: 'in_flight',
      requestId, created: this.clock.now(), status: null, body: null,
    };
    this.records.set(slot, record);
    return {kind: 'new', record};
  }

  // The endpoint finished: keep its outcome for replay.
  complete(record, status, body) {
    record.state = 'done';
    record.status = status;
    record.body = body;
  }

  // The outcome is not stored: the key is free again.
  abandon(record) {
    const slot = this.#slot(record.account, record.key);
    if (this.records.get(slot) === record) this.records.delete(slot);
  }
}
