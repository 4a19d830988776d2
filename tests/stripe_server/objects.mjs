// Accounts (Connect), customers and payment methods.
import {DECLINES, TEST_CARDS, isMagicId, magicIdForToken, renderPaymentMethod} from './cards.mjs';
import {StripeError, docUrl, invalidParam, invalidRequest, missingParam, resourceMissing} from './errors.mjs';
import * as P from './params.mjs';
import {PLATFORM_ACCOUNT, newId} from './state.mjs';

// ---- accounts --------------------------------------------------------------------------------

function createAccount(ctx) {
  const p = ctx.params;
  const type = P.oneOf(p, 'type', ['standard', 'express', 'custom']);
  if (!type && p.controller === undefined) throw missingParam('type');
  if (ctx.account) {
    throw invalidRequest('You cannot create connected accounts on behalf of a connected account (remove the Stripe-Account header).');
  }
  const md = P.metadata(p);
  const account = {
    id: newId('acct'),
    object: 'account',
    business_profile: {mcc: null, name: null, product_description: null, support_email: null, url: null},
    business_type: P.string(p, 'business_type') ?? null,
    capabilities: {card_payments: 'active', transfers: 'active'},
    charges_enabled: true,
    controller: {type: type === 'standard' ? 'account' : 'application'},
    country: P.string(p, 'country') || 'US',
    created: ctx.clock.now(),
    default_currency: P.string(p, 'default_currency') || 'usd',
    details_submitted: true,
    email: P.string(p, 'email') ?? null,
    livemode: false,
    metadata: P.applyMetadata({}, md),
    payouts_enabled: true,
    settings: {payments: {statement_descriptor: null}},
    type: type || 'custom',
  };
  ctx.store.accounts.set(account.id, account);
  ctx.store.partition(account.id);
  return {status: 200, body: account};
}

// A connected account with a chosen id (--seed-account), as POST /v1/accounts type=custom makes
// one, so a development setup can name it in advance (scripts/run.sh, the demo shop's settings).
export function seedAccount(ctx, id) {
  const {body} = createAccount({...ctx, account: null, params: {type: 'custom'}});
  ctx.store.accounts.delete(body.id);
  ctx.store.partitions.delete(body.id);
  body.id = id;
  ctx.store.accounts.set(id, body);
  ctx.store.partition(id);
  return body;
}

function getAccount(ctx, id) {
  const account = ctx.store.accounts.get(id);
  if (!account) throw resourceMissing('account', id, 'id', 404);
  return {status: 200, body: account};
}

function getCurrentAccount(ctx) {
  if (ctx.account) return getAccount(ctx, ctx.account);
  return {status: 200, body: {id: PLATFORM_ACCOUNT, object: 'account', charges_enabled: true,
    country: 'US', default_currency: 'usd', details_submitted: true, payouts_enabled: true, type: 'standard'}};
}

// ---- payment methods -------------------------------------------------------------------------

// The stored record behind a pm id in the request's account (magic ids get a transient one), or
// a 400 resource_missing naming `param`.
export function resolvePaymentMethod(ctx, id, param = 'payment_method') {
  if (isMagicId(id)) return {id, card: id, customer: null, magic: true};
  const record = ctx.partition.paymentMethods.get(id);
  if (!record) throw resourceMissing('PaymentMethod', id, param);
  return record;
}

// 402 card_error for a decline (attach-time checks and charges share it).
export function cardError(declineKey, extra = {}) {
  const d = DECLINES[declineKey];
  return new StripeError(402, {
    type: 'card_error', code: d.code, decline_code: d.decline_code, message: d.message, param: d.param,
    doc_url: docUrl(d.code), ...extra,
  });
}

export function storePaymentMethod(ctx, card, customer, extra = {}) {
  const record = {id: newId('pm'), card, customer: customer || null, created: ctx.clock.now(), metadata: {}, ...extra};
  ctx.partition.paymentMethods.set(record.id, record);
  return record;
}

function createPaymentMethod(ctx) {
  const p = ctx.params;
  P.checkKnown(p, ['type', 'card', 'metadata', 'billing_details', 'expand']);
  const type = P.string(p, 'type', {required: true});
  if (type !== 'card') throw invalidParam('type', `Invalid type: this server supports only card (got ${type})`);
  const card = p.card;
  if (card === undefined) throw missingParam('card');
  if (typeof card !== 'object') throw invalidParam('card', 'Invalid object');
  if (card.number !== undefined) {
    throw invalidRequest('Sending credit card numbers directly to the Stripe API is generally unsafe. To continue processing use Stripe.js, the Stripe mobile bindings, or Stripe Elements. This server accepts card[token]=tok_* only.', {param: 'card[number]'}, {stored: false});
  }
  if (typeof card.token !== 'string') throw missingParam('card[token]');
  const md = P.metadata(p);
  const magic = magicIdForToken(card.token);
  if (!magic) throw resourceMissing('token', card.token, 'card[token]');
  const record = storePaymentMethod(ctx, magic, null, {metadata: P.applyMetadata({}, md)});
  return {status: 200, body: renderPaymentMethod(record, ctx.clock)};
}

function getPaymentMethod(ctx, id) {
  if (isMagicId(id)) return {status: 200, body: renderPaymentMethod({id, card: id}, ctx.clock)};
  const record = ctx.partition.paymentMethods.get(id);
  if (!record) throw resourceMissing('PaymentMethod', id, 'id', 404);
  return {status: 200, body: renderPaymentMethod(record, ctx.clock)};
}

// Attaching a magic id clones it into a real pm_… attached to the customer, as Stripe does; the
// decline cards fail here already (Stripe checks the card when it is attached).
export function attach(ctx, id, customerId) {
  const customer = ctx.partition.customers.get(customerId);
  if (!customer) throw resourceMissing('customer', customerId, 'customer');
  if (isMagicId(id)) {
    if (TEST_CARDS[id].attachFails) throw cardError(TEST_CARDS[id].decline);
    return storePaymentMethod(ctx, id, customerId);
  }
  const record = ctx.partition.paymentMethods.get(id);
  if (!record) throw resourceMissing('PaymentMethod', id, 'payment_method', 404);
  if (record.customer && record.customer !== customerId) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.', {param: 'customer'});
  }
  if (record.consumed) {
    throw invalidRequest('This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.', {param: 'payment_method'});
  }
  if (TEST_CARDS[record.card].attachFails) throw cardError(TEST_CARDS[record.card].decline);
  record.customer = customerId;
  return record;
}

function attachPaymentMethod(ctx, id) {
  P.checkKnown(ctx.params, ['customer', 'expand']);
  const customerId = P.string(ctx.params, 'customer', {required: true});
  return {status: 200, body: renderPaymentMethod(attach(ctx, id, customerId), ctx.clock)};
}

function detachPaymentMethod(ctx, id) {
  P.checkKnown(ctx.params, ['expand']);
  const record = ctx.partition.paymentMethods.get(id);
  if (!record) throw resourceMissing('PaymentMethod', id, 'id', 404);
  if (!record.customer) throw invalidRequest('The payment method you provided is not attached to a customer so detachment is impossible.');
  const body = renderPaymentMethod({...record, customer: null}, ctx.clock);
  record.customer = null;
  record.consumed = true;  // a detached PaymentMethod cannot be used again
  return {status: 200, body};
}

// ---- customers -------------------------------------------------------------------------------

export function newCustomer(ctx, id, fields = {}) {
  const customer = {
    id: id || newId('cus'),
    object: 'customer',
    address: null,
    balance: 0,
    created: ctx.clock.now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: fields.description ?? null,
    discount: null,
    email: fields.email ?? null,
    invoice_prefix: id ? id.slice(4, 12).toUpperCase() : null,
    invoice_settings: {custom_fields: null, default_payment_method: null, footer: null, rendering_options: null},
    livemode: false,
    metadata: fields.metadata ?? {},
    name: fields.name ?? null,
    next_invoice_sequence: 1,
    phone: fields.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
  if (!customer.invoice_prefix) customer.invoice_prefix = customer.id.slice(4, 12).toUpperCase();
  ctx.partition.customers.set(customer.id, customer);
  return customer;
}

const CUSTOMER_PARAMS = ['email', 'name', 'description', 'phone', 'metadata', 'payment_method',
  'invoice_settings', 'expand'];

function defaultPaymentMethodParam(p) {
  const s = p.invoice_settings;
  if (s === undefined) return undefined;
  if (typeof s !== 'object' || Array.isArray(s)) throw invalidParam('invoice_settings', 'Invalid object');
  for (const k of Object.keys(s)) if (k !== 'default_payment_method') throw invalidParam(`invoice_settings[${k}]`, `Received unknown parameter: invoice_settings[${k}]`, 'parameter_unknown');
  return s.default_payment_method;
}

function createCustomer(ctx) {
  const p = ctx.params;
  P.checkKnown(p, CUSTOMER_PARAMS);
  const fields = {
    email: P.string(p, 'email', {max: 512}), name: P.string(p, 'name', {max: 256}),
    description: P.string(p, 'description'), phone: P.string(p, 'phone', {max: 20}),
    metadata: P.applyMetadata({}, P.metadata(p)),
  };
  const pm = P.string(p, 'payment_method');
  const defaultPm = defaultPaymentMethodParam(p);
  // Like Stripe, a card that cannot be attached fails the whole request and no customer is kept:
  // check everything attach() could refuse before creating anything.
  if (pm) {
    const record = resolvePaymentMethod(ctx, pm);
    if (TEST_CARDS[record.card].attachFails) throw cardError(TEST_CARDS[record.card].decline);
    if (!record.magic && (record.customer || record.consumed)) {
      throw invalidRequest('The payment method you provided has already been attached to a customer.', {param: 'payment_method'});
    }
  }
  const customer = newCustomer(ctx, null, fields);
  let attached = null;
  if (pm) attached = attach(ctx, pm, customer.id);
  if (defaultPm) {
    customer.invoice_settings.default_payment_method = resolveDefault(ctx, defaultPm, customer.id, attached);
  }
  return {status: 200, body: customer};
}

function resolveDefault(ctx, id, customerId, attached) {
  if (attached && (attached.id === id || attached.card === id)) return attached.id;
  if (isMagicId(id)) return id;
  const record = ctx.partition.paymentMethods.get(id);
  if (!record) throw resourceMissing('PaymentMethod', id, 'invoice_settings[default_payment_method]');
  if (record.customer !== customerId) {
    throw invalidRequest(`The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`, {param: 'invoice_settings[default_payment_method]'});
  }
  return id;
}

function getCustomer(ctx, id) {
  const customer = ctx.partition.customers.get(id);
  if (!customer) throw resourceMissing('customer', id, 'id', 404);
  return {status: 200, body: customer};
}

function updateCustomer(ctx, id) {
  const p = ctx.params;
  P.checkKnown(p, CUSTOMER_PARAMS.filter((k) => k !== 'payment_method'));
  const md = P.metadata(p);
  const defaultPm = defaultPaymentMethodParam(p);
  const customer = ctx.partition.customers.get(id);
  if (!customer) throw resourceMissing('customer', id, 'id', 404);
  for (const k of ['email', 'name', 'description', 'phone']) {
    const v = P.string(p, k);
    if (v !== undefined) customer[k] = v === '' ? null : v;
  }
  customer.metadata = P.applyMetadata(customer.metadata, md);
  if (defaultPm !== undefined) {
    customer.invoice_settings.default_payment_method = defaultPm === '' ? null : resolveDefault(ctx, defaultPm, id, null);
  }
  return {status: 200, body: customer};
}

function listCustomerPaymentMethods(ctx, id) {
  if (!ctx.partition.customers.get(id)) throw resourceMissing('customer', id, 'customer', 404);
  const items = [...ctx.partition.paymentMethods.values()].filter((r) => r.customer === id).reverse()
    .map((r) => renderPaymentMethod(r, ctx.clock));
  return {status: 200, body: P.paginate(items, ctx.params, `/v1/customers/${id}/payment_methods`)};
}

export const routes = [
  ['POST', '/v1/accounts', createAccount],
  ['GET', '/v1/accounts/:id', getAccount],
  ['GET', '/v1/account', getCurrentAccount],
  ['POST', '/v1/customers', createCustomer],
  ['GET', '/v1/customers/:id', getCustomer],
  ['POST', '/v1/customers/:id', updateCustomer],
  ['GET', '/v1/customers/:id/payment_methods', listCustomerPaymentMethods],
  ['POST', '/v1/payment_methods', createPaymentMethod],
  ['GET', '/v1/payment_methods/:id', getPaymentMethod],
  ['POST', '/v1/payment_methods/:id/attach', attachPaymentMethod],
  ['POST', '/v1/payment_methods/:id/detach', detachPaymentMethod],
];
