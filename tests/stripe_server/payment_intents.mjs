// PaymentIntents (stripe.md §3a): create (optionally confirming), confirm, capture, cancel,
// update, retrieve, list, search, and the shopper's side of 3DS (authenticate, used by the
// control API).
//
// Outcomes of a confirmation, by test card (cards.mjs):
//   success                  -> 200 succeeded (requires_capture with capture_method=manual),
//                               latest_charge ch_…, amount_received; payment_intent.succeeded
//   decline                  -> 402 card_error with error.payment_intent in requires_payment_method
//                               and last_payment_error; payment_intent.payment_failed
//   3DS card, on-session     -> 200 requires_action, next_action use_stripe_sdk (redirect_to_url
//                               when a return_url was given); payment_intent.requires_action
//   3DS card, off_session    -> 402 authentication_required, PI in requires_payment_method
import {TEST_CARDS, renderPaymentMethod} from './cards.mjs';
import {newCharge} from './charges.mjs';
import {StripeError, docUrl, invalidParam, invalidRequest, resourceMissing, unexpectedState} from './errors.mjs';
import {cardError, resolvePaymentMethod} from './objects.mjs';
import * as P from './params.mjs';
import {compileQuery} from './search.mjs';
import {newId, randomToken} from './state.mjs';

// Minimum charge per currency in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
const MINIMUM = {
  usd: 50, aed: 200, aud: 50, brl: 50, cad: 50, chf: 50, czk: 1500, dkk: 250, eur: 50, gbp: 30,
  hkd: 400, huf: 17500, inr: 50, jpy: 50, mxn: 1000, myr: 200, nok: 300, nzd: 50, pln: 200,
  ron: 200, sek: 300, sgd: 50, thb: 1000, zar: 50, krw: 100, ils: 200, isk: 100, try: 50,
};
const ZERO_DECIMAL = new Set(['jpy', 'krw', 'isk', 'vnd', 'clp', 'pyg', 'ugx', 'xaf', 'xof']);
const MAXIMUM = 99999999;
const AUTOMATIC_PM_DEFAULT_SINCE = '2023-08-16';  // changelog: automatic_payment_methods on by default
const AUTOMATIC_ASYNC_SINCE = '2024-04-10';       // default capture_method automatic_async

const CREATE_PARAMS = ['amount', 'currency', 'customer', 'payment_method', 'confirm', 'off_session',
  'payment_method_types', 'automatic_payment_methods', 'return_url', 'capture_method',
  'confirmation_method', 'description', 'metadata', 'statement_descriptor',
  'statement_descriptor_suffix', 'receipt_email', 'setup_future_usage', 'expand',
  'error_on_requires_action', 'use_stripe_sdk', 'payment_method_options', 'application_fee_amount'];
const CONFIRM_PARAMS = ['payment_method', 'off_session', 'return_url', 'error_on_requires_action',
  'use_stripe_sdk', 'expand', 'receipt_email', 'setup_future_usage', 'capture_method',
  'payment_method_types', 'payment_method_options'];
const UPDATE_PARAMS = ['amount', 'currency', 'customer', 'description', 'metadata', 'payment_method',
  'payment_method_types', 'receipt_email', 'setup_future_usage', 'statement_descriptor_suffix',
  'capture_method', 'expand', 'payment_method_options'];
const CONFIRMABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing'];

function money(amount, currency) {
  const major = ZERO_DECIMAL.has(currency) ? String(amount) : (amount / 100).toFixed(2);
  return `${currency === 'usd' ? '$' : ''}${major.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${currency === 'usd' ? '' : ` ${currency}`}`;
}

function currencyParam(p, required) {
  const c = P.string(p, 'currency', {required});
  if (c === undefined) return undefined;
  if (!/^[a-z]{3}$/.test(c) || !(c in MINIMUM || ZERO_DECIMAL.has(c))) {
    throw invalidParam('currency', `Invalid currency: ${c}. Stripe currently supports these currencies: ${Object.keys(MINIMUM).join(', ')}`);
  }
  return c;
}

function checkAmount(amount, currency) {
  const min = MINIMUM[currency] ?? 50;
  if (amount < min) {
    throw invalidParam('amount', `Amount must be at least ${money(min, currency)}${currency === 'usd' ? ' usd' : ''}`, 'amount_too_small');
  }
  if (amount > MAXIMUM) {
    throw invalidParam('amount', `Amount must be no more than ${money(MAXIMUM, currency)}`, 'amount_too_large');
  }
}

function offSessionParam(p) {
  const v = p.off_session;
  if (v === undefined || v === '') return undefined;
  if (v === 'true' || v === 'one_off' || v === 'recurring') return true;
  if (v === 'false') return false;
  throw invalidParam('off_session', `Invalid off_session: must be a boolean or one of one_off, recurring`);
}

function versionAtLeast(ctx, date) {
  return (ctx.stripeVersion || '9999').slice(0, 10) >= date;
}

// payment_method_types vs automatic_payment_methods. Returns the fields to store.
function paymentMethodTypes(ctx, p) {
  const types = P.list(p, 'payment_method_types');
  const apm = p.automatic_payment_methods;
  let enabled;
  let allowRedirects;
  if (apm !== undefined) {
    if (typeof apm !== 'object' || Array.isArray(apm)) throw invalidParam('automatic_payment_methods', 'Invalid object');
    for (const k of Object.keys(apm)) {
      if (k !== 'enabled' && k !== 'allow_redirects') {
        throw invalidParam(`automatic_payment_methods[${k}]`, `Received unknown parameter: automatic_payment_methods[${k}]`, 'parameter_unknown');
      }
    }
    enabled = P.boolean(apm, 'enabled');
    if (enabled === undefined) throw invalidParam('automatic_payment_methods[enabled]', 'Missing required param: automatic_payment_methods[enabled].', 'parameter_missing');
    const ar = apm.allow_redirects;
    if (ar !== undefined && ar !== 'always' && ar !== 'never') {
      throw invalidParam('automatic_payment_methods[allow_redirects]', 'Invalid automatic_payment_methods[allow_redirects]: must be one of always or never');
    }
    allowRedirects = ar;
  }
  if (types && types.length && enabled) {
    throw invalidParam('payment_method_types', 'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.', 'parameters_exclusive');
  }
  if (types && types.length) {
    for (const t of types) if (t !== 'card') throw invalidParam('payment_method_types', `Invalid payment_method_types[]: this server supports only card (got ${t})`);
    return {payment_method_types: types, automatic_payment_methods: null};
  }
  if (enabled === false) return {payment_method_types: ['card'], automatic_payment_methods: null};
  if (enabled || versionAtLeast(ctx, AUTOMATIC_PM_DEFAULT_SINCE)) {
    return {payment_method_types: ['card'], automatic_payment_methods: {allow_redirects: allowRedirects || 'always', enabled: true}};
  }
  return {payment_method_types: ['card'], automatic_payment_methods: null};
}

// The return_url rule (stripe.md §3a): with automatic payment methods that allow redirects, an
// on-session confirmation needs somewhere to send the shopper back to.
function checkReturnUrl(pi, offSession, returnUrl) {
  const apm = pi.automatic_payment_methods;
  if (offSession || returnUrl || !apm || !apm.enabled || apm.allow_redirects === 'never') return;
  throw new StripeError(400, {
    type: 'invalid_request_error',
    message: 'This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of these payment methods might redirect your customer off of your page, you must provide a `return_url`. If you don\'t want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.',
  }, {stored: false});
}

function optionsParam(p) {
  const v = p.payment_method_options;
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParam('payment_method_options', 'Invalid object');
  for (const k of Object.keys(v)) if (k !== 'card') throw invalidParam(`payment_method_options[${k}]`, `Received unknown parameter: payment_method_options[${k}]`, 'parameter_unknown');
  const card = v.card;
  if (card !== undefined) {
    if (typeof card !== 'object') throw invalidParam('payment_method_options[card]', 'Invalid object');
    const allowed = {capture_method: ['manual', ''], request_three_d_secure: ['automatic', 'any', 'challenge'],
      setup_future_usage: ['none', 'off_session', 'on_session', '']};
    for (const [k, val] of Object.entries(card)) {
      if (!(k in allowed)) throw invalidParam(`payment_method_options[card][${k}]`, `Received unknown parameter: payment_method_options[card][${k}]`, 'parameter_unknown');
      if (!allowed[k].includes(val)) throw invalidParam(`payment_method_options[card][${k}]`, `Invalid payment_method_options[card][${k}]: must be one of ${allowed[k].filter(Boolean).join(', ')}`);
    }
  }
  return v;
}

function suffixParam(p) {
  const s = P.string(p, 'statement_descriptor_suffix');
  if (s === undefined || s === '') return s === '' ? null : undefined;
  if (s.length > 22 || /[<>\\'"*]/.test(s) || !/[A-Za-z]/.test(s)) {
    throw invalidParam('statement_descriptor_suffix', 'Invalid statement_descriptor_suffix: at most 22 characters, at least one letter, none of < > \\ \' " *');
  }
  return s;
}

function statementDescriptorRejected(p) {
  if (p.statement_descriptor !== undefined && p.statement_descriptor !== '') {
    throw invalidParam('statement_descriptor', 'The `statement_descriptor` parameter is not supported for the `card` payment method type. Use `statement_descriptor_suffix` instead.');
  }
}

// The stored PaymentIntent as the API shows it, with `expand` applied (latest_charge, customer,
// payment_method; `prefix` is "data." on list endpoints).
export function renderPaymentIntent(ctx, pi, expand = [], prefix = '') {
  const out = {...pi};
  const want = (f) => expand.includes(prefix + f);
  if (want('latest_charge') && pi.latest_charge) out.latest_charge = ctx.partition.charges.get(pi.latest_charge) ?? pi.latest_charge;
  if (want('customer') && pi.customer) out.customer = ctx.partition.customers.get(pi.customer) ?? pi.customer;
  if (want('payment_method') && pi.payment_method) {
    try {
      out.payment_method = renderPaymentMethod(resolvePaymentMethod(ctx, pi.payment_method), ctx.clock);
    } catch { /* a pm that vanished stays an id */ }
  }
  return out;
}

function snapshot(pi) {
  return JSON.parse(JSON.stringify(pi));
}

function emit(ctx, type, object) {
  ctx.webhooks.create(ctx, ctx.partition, ctx.account, type, object);
}

// Checks that `record` (from resolvePaymentMethod) may pay for `pi`.
function checkOwnership(pi, record) {
  if (record.magic) return;
  if (record.consumed) {
    throw invalidRequest('The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.', {param: 'payment_method'});
  }
  if (record.customer && !pi.customer) {
    throw invalidRequest(`The provided PaymentMethod belongs to a Customer (${record.customer}). Please include the Customer in the \`customer\` parameter on the PaymentIntent.`, {param: 'customer'});
  }
  if (record.customer && record.customer !== pi.customer) {
    throw invalidRequest(`The provided PaymentMethod ${record.id} does not belong to the Customer ${pi.customer}.`, {param: 'payment_method'});
  }
}

// A failed attempt: the PI goes back to requires_payment_method with last_payment_error, its
// payment_method is cleared (as Stripe does), and the 402 carries the whole PI.
function failAttempt(ctx, pi, record, declineKey, {throwError = true} = {}) {
  const charge = newCharge(ctx, pi, record, {decline: declineKey});
  const err = cardError(declineKey, {charge: charge.id});
  const pmObject = renderPaymentMethod(record, ctx.clock);
  pi.status = 'requires_payment_method';
  pi.latest_charge = charge.id;
  pi.next_action = null;
  pi.payment_method = null;
  pi.last_payment_error = {...err.body().error, payment_method: pmObject};
  emit(ctx, 'payment_intent.payment_failed', pi);
  if (!throwError) return null;
  err.fields.payment_intent = snapshot(pi);
  err.fields.payment_method = pmObject;
  err.fields.request_log_url = `https://dashboard.stripe.com/test/logs/${ctx.requestId}`;
  throw err;
}

function succeedAttempt(ctx, pi, record, {authenticated = false} = {}) {
  const charge = newCharge(ctx, pi, record, {authenticated});
  pi.latest_charge = charge.id;
  pi.last_payment_error = null;
  pi.next_action = null;
  if (record.magic === undefined && !record.customer && !pi.customer) record.consumed = true;
  if (pi.capture_method === 'manual') {
    pi.status = 'requires_capture';
    pi.amount_capturable = pi.amount;
    emit(ctx, 'payment_intent.amount_capturable_updated', pi);
  } else {
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    emit(ctx, 'payment_intent.succeeded', pi);
  }
}

function requireAction(ctx, pi, returnUrl, useStripeSdk) {
  pi.status = 'requires_action';
  pi.last_payment_error = null;
  const url = `${ctx.baseUrl}/_test/3ds/${pi.id}`;
  pi.next_action = returnUrl && !useStripeSdk
    ? {type: 'redirect_to_url', redirect_to_url: {return_url: returnUrl, url}}
    : {type: 'use_stripe_sdk', use_stripe_sdk: {type: 'three_d_secure_redirect', stripe_js: url,
      source: `src_${randomToken(24)}`, directory_server_name: 'visa'}};
  emit(ctx, 'payment_intent.requires_action', pi);
}

// Runs one payment attempt on `pi` (which has a payment_method). Throws the 402 on failure.
function attempt(ctx, pi, {offSession, returnUrl, errorOnRequiresAction, useStripeSdk}) {
  const record = resolvePaymentMethod(ctx, pi.payment_method);
  const card = TEST_CARDS[record.card];
  const threeDs = pi.payment_method_options?.card?.request_three_d_secure;
  const needsAuth = card.auth === 'always' || (card.auth === 'on_session' && !offSession) ||
    (!offSession && (threeDs === 'any' || threeDs === 'challenge'));
  if (needsAuth && (offSession || errorOnRequiresAction)) return failAttempt(ctx, pi, record, 'authentication_required');
  if (needsAuth) return requireAction(ctx, pi, returnUrl, useStripeSdk);
  if (card.decline) return failAttempt(ctx, pi, record, card.decline);
  return succeedAttempt(ctx, pi, record);
}

function missingPaymentMethod(pi) {
  return unexpectedState(`You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with ${pi.customer ?? 'a customer'}, specify a payment method attached to this customer along with the customer ID.`, snapshot(pi));
}

function createPaymentIntent(ctx) {
  const p = ctx.params;
  // Parameter validation first: none of these outcomes is stored under the idempotency key.
  P.checkKnown(p, CREATE_PARAMS);
  const amount = P.integer(p, 'amount', {required: true});
  const currency = currencyParam(p, true);
  checkAmount(amount, currency);
  const confirm = P.boolean(p, 'confirm') ?? false;
  const offSession = offSessionParam(p);
  if (offSession !== undefined && !confirm) {
    throw invalidParam('off_session', 'You can only pass `off_session` when `confirm` is `true`. Remove `off_session` or set `confirm=true`.');
  }
  const returnUrl = P.string(p, 'return_url', {max: 2048});
  if (returnUrl !== undefined && !confirm) {
    throw invalidParam('return_url', 'You can only pass `return_url` when `confirm` is `true`.');
  }
  const errorOnRequiresAction = P.boolean(p, 'error_on_requires_action') ?? false;
  if (errorOnRequiresAction && !confirm) {
    throw invalidParam('error_on_requires_action', 'You can only pass `error_on_requires_action` when `confirm` is `true`.');
  }
  const useStripeSdk = P.boolean(p, 'use_stripe_sdk') ?? false;
  const options = optionsParam(p);
  const captureMethod = P.oneOf(p, 'capture_method', ['automatic', 'automatic_async', 'manual']) ??
    (options?.card?.capture_method === 'manual' ? 'manual'
      : versionAtLeast(ctx, AUTOMATIC_ASYNC_SINCE) ? 'automatic_async' : 'automatic');
  const confirmationMethod = P.oneOf(p, 'confirmation_method', ['automatic', 'manual']) ?? 'automatic';
  const types = paymentMethodTypes(ctx, p);
  statementDescriptorRejected(p);
  const suffix = suffixParam(p);
  const description = P.string(p, 'description', {max: 1000});
  const md = P.metadata(p);
  const receiptEmail = P.string(p, 'receipt_email');
  const setupFutureUsage = P.oneOf(p, 'setup_future_usage', ['on_session', 'off_session']);
  const fee = P.integer(p, 'application_fee_amount');
  if (fee !== undefined && !ctx.account) {
    throw invalidParam('application_fee_amount', 'Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment (using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).');
  }
  const customerId = P.string(p, 'customer');
  const pmId = P.string(p, 'payment_method');
  const expand = P.expandList(p);
  const draft = {automatic_payment_methods: types.automatic_payment_methods};
  if (confirm) checkReturnUrl(draft, offSession, returnUrl);

  // From here on the endpoint is executing: errors are stored.
  if (customerId && !ctx.partition.customers.has(customerId)) throw resourceMissing('customer', customerId, 'customer');
  let record = null;
  if (pmId) record = resolvePaymentMethod(ctx, pmId);
  const id = newId('pi');
  const pi = {
    id,
    object: 'payment_intent',
    amount,
    amount_capturable: 0,
    amount_details: {tip: {}},
    amount_received: 0,
    application: null,
    application_fee_amount: fee ?? null,
    automatic_payment_methods: types.automatic_payment_methods,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: captureMethod,
    client_secret: `${id}_secret_${randomToken(25)}`,
    confirmation_method: confirmationMethod,
    created: ctx.clock.now(),
    currency,
    customer: customerId || null,
    description: description || null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    metadata: P.applyMetadata({}, md),
    next_action: null,
    on_behalf_of: null,
    payment_method: pmId || null,
    payment_method_configuration_details: null,
    payment_method_options: {card: {installments: null, mandate_options: null, network: null,
      request_three_d_secure: options?.card?.request_three_d_secure || 'automatic'}},
    payment_method_types: types.payment_method_types,
    processing: null,
    receipt_email: receiptEmail || null,
    review: null,
    setup_future_usage: setupFutureUsage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: suffix ?? null,
    status: pmId ? 'requires_confirmation' : 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  };
  if (record) checkOwnership(pi, record);
  ctx.partition.paymentIntents.set(id, pi);
  if (confirm) {
    if (!pi.payment_method) throw missingPaymentMethod(pi);
    attempt(ctx, pi, {offSession, returnUrl, errorOnRequiresAction, useStripeSdk});
  }
  return {status: 200, body: renderPaymentIntent(ctx, pi, expand)};
}

function findPaymentIntent(ctx, id) {
  const pi = ctx.partition.paymentIntents.get(id);
  if (!pi) throw resourceMissing('payment_intent', id, 'intent', 404);
  return pi;
}

function getPaymentIntent(ctx, id) {
  P.checkKnown(ctx.params, ['expand', 'client_secret']);
  const expand = P.expandList(ctx.params);
  return {status: 200, body: renderPaymentIntent(ctx, findPaymentIntent(ctx, id), expand)};
}

function confirmPaymentIntent(ctx, id) {
  const p = ctx.params;
  P.checkKnown(p, CONFIRM_PARAMS);
  const offSession = offSessionParam(p);
  const returnUrl = P.string(p, 'return_url', {max: 2048});
  const errorOnRequiresAction = P.boolean(p, 'error_on_requires_action') ?? false;
  const useStripeSdk = P.boolean(p, 'use_stripe_sdk') ?? false;
  const captureMethod = P.oneOf(p, 'capture_method', ['automatic', 'automatic_async', 'manual']);
  const options = optionsParam(p);
  const pmId = P.string(p, 'payment_method');
  const receiptEmail = P.string(p, 'receipt_email');
  const setupFutureUsage = P.oneOf(p, 'setup_future_usage', ['on_session', 'off_session']);
  const types = P.list(p, 'payment_method_types');
  if (types) for (const t of types) if (t !== 'card') throw invalidParam('payment_method_types', `Invalid payment_method_types[]: this server supports only card (got ${t})`);
  const expand = P.expandList(p);
  const pi = findPaymentIntent(ctx, id);
  checkReturnUrl(types && types.length ? {} : pi, offSession, returnUrl);

  if (!CONFIRMABLE.includes(pi.status)) {
    const why = pi.status === 'succeeded' ? 'it has already succeeded after being previously confirmed'
      : `it has a status of ${pi.status}`;
    throw unexpectedState(`You cannot confirm this PaymentIntent because ${why}.`, snapshot(pi));
  }
  if (pmId) {
    const record = resolvePaymentMethod(ctx, pmId);
    checkOwnership(pi, record);
    pi.payment_method = pmId;
  }
  if (!pi.payment_method) throw missingPaymentMethod(pi);
  if (types && types.length) {
    pi.payment_method_types = types;
    pi.automatic_payment_methods = null;
  }
  if (captureMethod) pi.capture_method = captureMethod;
  if (options?.card?.request_three_d_secure) pi.payment_method_options.card.request_three_d_secure = options.card.request_three_d_secure;
  if (receiptEmail !== undefined) pi.receipt_email = receiptEmail || null;
  if (setupFutureUsage !== undefined) pi.setup_future_usage = setupFutureUsage;
  attempt(ctx, pi, {offSession, returnUrl, errorOnRequiresAction, useStripeSdk});
  return {status: 200, body: renderPaymentIntent(ctx, pi, expand)};
}

function updatePaymentIntent(ctx, id) {
  const p = ctx.params;
  P.checkKnown(p, UPDATE_PARAMS);
  const amount = P.integer(p, 'amount');
  const currency = currencyParam(p, false);
  const md = P.metadata(p);
  const suffix = suffixParam(p);
  const description = P.string(p, 'description', {max: 1000});
  const captureMethod = P.oneOf(p, 'capture_method', ['automatic', 'automatic_async', 'manual']);
  const setupFutureUsage = P.oneOf(p, 'setup_future_usage', ['on_session', 'off_session']);
  const receiptEmail = P.string(p, 'receipt_email');
  const types = P.list(p, 'payment_method_types');
  if (types) for (const t of types) if (t !== 'card') throw invalidParam('payment_method_types', `Invalid payment_method_types[]: this server supports only card (got ${t})`);
  optionsParam(p);
  const customerId = P.string(p, 'customer');
  const pmId = P.string(p, 'payment_method');
  const expand = P.expandList(p);
  const pi = findPaymentIntent(ctx, id);
  if (amount !== undefined) checkAmount(amount, currency ?? pi.currency);

  const onlyMetadata = Object.keys(p).every((k) => ['metadata', 'description', 'expand', 'receipt_email'].includes(k));
  if (!onlyMetadata && !CONFIRMABLE.includes(pi.status)) {
    throw unexpectedState(`This PaymentIntent's ${Object.keys(p).filter((k) => k !== 'expand').join(', ')} could not be updated because it has a status of ${pi.status}. You may only update the amount, currency, customer, payment_method and payment_method_types of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action.`, snapshot(pi));
  }
  if (customerId !== undefined) {
    if (customerId && !ctx.partition.customers.has(customerId)) throw resourceMissing('customer', customerId, 'customer');
    pi.customer = customerId || null;
  }
  if (pmId !== undefined) {
    if (pmId) checkOwnership(pi, resolvePaymentMethod(ctx, pmId));
    pi.payment_method = pmId || null;
    pi.status = pmId ? 'requires_confirmation' : 'requires_payment_method';
    pi.next_action = null;
  }
  if (amount !== undefined) pi.amount = amount;
  if (currency !== undefined) pi.currency = currency;
  if (description !== undefined) pi.description = description || null;
  if (suffix !== undefined) pi.statement_descriptor_suffix = suffix;
  if (captureMethod) pi.capture_method = captureMethod;
  if (setupFutureUsage !== undefined) pi.setup_future_usage = setupFutureUsage;
  if (receiptEmail !== undefined) pi.receipt_email = receiptEmail || null;
  if (types && types.length) {
    pi.payment_method_types = types;
    pi.automatic_payment_methods = null;
  }
  pi.metadata = P.applyMetadata(pi.metadata, md);
  return {status: 200, body: renderPaymentIntent(ctx, pi, expand)};
}

function cancelPaymentIntent(ctx, id) {
  const p = ctx.params;
  P.checkKnown(p, ['cancellation_reason', 'expand']);
  const reason = P.oneOf(p, 'cancellation_reason', ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']);
  const expand = P.expandList(p);
  const pi = findPaymentIntent(ctx, id);
  if (!CANCELABLE.includes(pi.status)) {
    throw unexpectedState(`You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`, snapshot(pi));
  }
  if (pi.status === 'requires_capture' && pi.latest_charge) {
    // Releasing an authorization shows up on the charge as a full refund.
    const charge = ctx.partition.charges.get(pi.latest_charge);
    charge.amount_refunded = charge.amount;
    charge.refunded = true;
  }
  pi.status = 'canceled';
  pi.canceled_at = ctx.clock.now();
  pi.cancellation_reason = reason ?? null;
  pi.amount_capturable = 0;
  pi.next_action = null;
  emit(ctx, 'payment_intent.canceled', pi);
  return {status: 200, body: renderPaymentIntent(ctx, pi, expand)};
}

function capturePaymentIntent(ctx, id) {
  const p = ctx.params;
  P.checkKnown(p, ['amount_to_capture', 'metadata', 'statement_descriptor_suffix', 'final_capture', 'expand']);
  const amountToCapture = P.integer(p, 'amount_to_capture');
  const md = P.metadata(p);
  const suffix = suffixParam(p);
  P.boolean(p, 'final_capture');
  const expand = P.expandList(p);
  const pi = findPaymentIntent(ctx, id);
  if (pi.status !== 'requires_capture') {
    throw unexpectedState(`This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`, snapshot(pi));
  }
  const amount = amountToCapture ?? pi.amount_capturable;
  if (amount < 1 || amount > pi.amount_capturable) {
    throw invalidRequest(`The amount to capture (${amount}) must be between 1 and the amount capturable (${pi.amount_capturable}).`, {param: 'amount_to_capture', code: 'amount_too_large', payment_intent: snapshot(pi)});
  }
  const charge = ctx.partition.charges.get(pi.latest_charge);
  charge.captured = true;
  charge.amount_captured = amount;
  charge.balance_transaction = newId('txn');
  if (amount < charge.amount) charge.amount_refunded = charge.amount - amount;  // the rest is released
  pi.status = 'succeeded';
  pi.amount_received = amount;
  pi.amount_capturable = 0;
  pi.metadata = P.applyMetadata(pi.metadata, md);
  if (suffix !== undefined) pi.statement_descriptor_suffix = suffix;
  emit(ctx, 'payment_intent.succeeded', pi);
  return {status: 200, body: renderPaymentIntent(ctx, pi, expand)};
}

function createdFilter(p) {
  const c = p.created;
  if (c === undefined) return () => true;
  if (typeof c === 'string') {
    const n = P.integer(p, 'created');
    return (pi) => pi.created === n;
  }
  const bounds = {};
  for (const k of Object.keys(c)) {
    if (!['gt', 'gte', 'lt', 'lte'].includes(k)) throw invalidParam(`created[${k}]`, `Received unknown parameter: created[${k}]`, 'parameter_unknown');
    bounds[k] = P.integer(c, k);
  }
  return (pi) => (bounds.gt === undefined || pi.created > bounds.gt) && (bounds.gte === undefined || pi.created >= bounds.gte) &&
    (bounds.lt === undefined || pi.created < bounds.lt) && (bounds.lte === undefined || pi.created <= bounds.lte);
}

function listPaymentIntents(ctx) {
  const p = ctx.params;
  P.checkKnown(p, ['customer', 'limit', 'starting_after', 'ending_before', 'created', 'expand']);
  const customer = P.string(p, 'customer');
  const inRange = createdFilter(p);
  const expand = P.expandList(p);
  const items = [...ctx.partition.paymentIntents.values()].reverse()
    .filter((pi) => (!customer || pi.customer === customer) && inRange(pi))
    .map((pi) => renderPaymentIntent(ctx, pi, expand, 'data.'));
  return {status: 200, body: P.paginate(items, p, '/v1/payment_intents')};
}

// Search pages are opaque tokens; here, the offset into the result set.
function searchPaymentIntents(ctx) {
  const p = ctx.params;
  P.checkKnown(p, ['query', 'limit', 'page', 'expand']);
  const query = P.string(p, 'query', {required: true});
  const n = P.limit(p);
  const page = P.string(p, 'page');
  let offset = 0;
  if (page) {
    const decoded = /^page_(\d+)$/.exec(Buffer.from(page, 'base64url').toString());
    if (!decoded) throw invalidParam('page', `Invalid page: ${page}`);
    offset = Number(decoded[1]);
  }
  const expand = P.expandList(p);
  const match = compileQuery(query);
  const all = [...ctx.partition.paymentIntents.values()].reverse().filter(match);
  const data = all.slice(offset, offset + n).map((pi) => renderPaymentIntent(ctx, pi, expand, 'data.'));
  const hasMore = offset + n < all.length;
  return {status: 200, body: {
    object: 'search_result', data, has_more: hasMore,
    next_page: hasMore ? Buffer.from(`page_${offset + n}`).toString('base64url') : null,
    url: '/v1/payment_intents/search',
  }};
}

// The shopper finished (or failed) the 3DS challenge of a requires_action PI. `ctx` is a
// control-API context bound to the PI's account.
export function authenticate(ctx, pi, succeed) {
  if (pi.status !== 'requires_action') {
    throw new Error(`payment intent ${pi.id} has status ${pi.status}, not requires_action`);
  }
  const record = resolvePaymentMethod(ctx, pi.payment_method);
  if (!succeed) {
    const pmObject = renderPaymentMethod(record, ctx.clock);
    pi.status = 'requires_payment_method';
    pi.next_action = null;
    pi.payment_method = null;
    pi.last_payment_error = {
      code: 'payment_intent_authentication_failure',
      doc_url: docUrl('payment_intent_authentication_failure'),
      message: 'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
      payment_method: pmObject,
      type: 'invalid_request_error',
    };
    emit(ctx, 'payment_intent.payment_failed', pi);
    return pi;
  }
  const card = TEST_CARDS[record.card];
  const decline = card.declineAfterAuth ?? card.decline;
  if (decline) failAttempt(ctx, pi, record, decline, {throwError: false});
  else succeedAttempt(ctx, pi, record, {authenticated: true});
  return pi;
}

export const routes = [
  ['POST', '/v1/payment_intents', createPaymentIntent],
  ['GET', '/v1/payment_intents', listPaymentIntents],
  ['GET', '/v1/payment_intents/search', searchPaymentIntents],
  ['GET', '/v1/payment_intents/:id', getPaymentIntent],
  ['POST', '/v1/payment_intents/:id', updatePaymentIntent],
  ['POST', '/v1/payment_intents/:id/confirm', confirmPaymentIntent],
  ['POST', '/v1/payment_intents/:id/cancel', cancelPaymentIntent],
  ['POST', '/v1/payment_intents/:id/capture', capturePaymentIntent],
];
