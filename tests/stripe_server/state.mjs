// The server's memory: a clock the tests can move, id generation, and one data partition per
// account (the platform plus every connected account created through POST /v1/accounts).
// Everything lives in this process and disappears on exit or POST /_test/reset.
import {randomBytes} from 'node:crypto';

// Stripe-like ids: prefix_ + 24 base62 characters.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export function randomToken(length = 24) {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length; ++i) {
    if (bytes[i] < 248) out += ALPHABET[bytes[i] % 62];  // 248 = 4 * 62: no modulo bias
    if (i === bytes.length - 1) return out + randomToken(length - out.length);
  }
  return out;
}
export function newId(prefix) {
  return `${prefix}_${randomToken(24)}`;
}

// Unix seconds, shifted by POST /_test/clock so that 24-hour expiries need no sleeping. Used for
// every `created`, for idempotency-key expiry and for webhook signature timestamps.
export class Clock {
  constructor() {
    this.offset = 0;
  }
  now() {
    return Math.floor(Date.now() / 1000) + this.offset;
  }
  advance(seconds) {
    this.offset += seconds;
  }
  set(unixSeconds) {
    this.offset = unixSeconds - Math.floor(Date.now() / 1000);
  }
}

export const PLATFORM_ACCOUNT = 'acct_1AfterglowPlatform0000';

function emptyPartition() {
  return {
    customers: new Map(),
    paymentMethods: new Map(),  // real pm_… ids (the pm_card_* magic ids need no record)
    paymentIntents: new Map(),
    charges: new Map(),
    refunds: new Map(),
    events: [],
  };
}

export class Store {
  constructor(clock) {
    this.clock = clock;
    this.reset();
  }

  reset() {
    this.accounts = new Map();  // connected accounts: id -> account object
    this.partitions = new Map([[PLATFORM_ACCOUNT, emptyPartition()]]);
  }

  // `account` is the Stripe-Account header value, or null for the platform.
  partition(account) {
    const id = account || PLATFORM_ACCOUNT;
    let p = this.partitions.get(id);
    if (!p) {
      p = emptyPartition();
      this.partitions.set(id, p);
    }
    return p;
  }

  accountExists(account) {
    return !account || account === PLATFORM_ACCOUNT || this.accounts.has(account);
  }

  // [accountOrNull, partition] for every account, platform first.
  *allPartitions() {
    for (const [id, p] of this.partitions) yield [id === PLATFORM_ACCOUNT ? null : id, p];
  }

  // Finds a payment intent in any account (ids are unique across accounts).
  findPaymentIntent(id) {
    for (const [account, p] of this.allPartitions()) {
      const pi = p.paymentIntents.get(id);
      if (pi) return {account, pi};
    }
    return null;
  }
}
