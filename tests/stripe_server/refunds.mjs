// Refunds by payment_intent or charge (stripe.md §3, "Refunds for rollback"), and the events
// endpoints.
import {invalidParam, invalidRequest, resourceMissing} from './errors.mjs';
import * as P from './params.mjs';
import {newId} from './state.mjs';

function money(amount, currency) {
  return currency === 'usd' ? `$${(amount / 100).toFixed(2)}` : `${amount} ${currency}`;
}

function emit(ctx, type, object) {
  ctx.webhooks.create(ctx, ctx.partition, ctx.account, type, object);
}

function createRefund(ctx) {
  const p = ctx.params;
  P.checkKnown(p, ['payment_intent', 'charge', 'amount', 'reason', 'metadata', 'expand',
    'refund_application_fee', 'reverse_transfer', 'instructions_email']);
  const piId = P.string(p, 'payment_intent');
  const chargeId = P.string(p, 'charge');
  if (!piId && !chargeId) {
    throw invalidParam(undefined, 'One of the following params should be provided for this request: payment_intent or charge.', 'parameter_missing');
  }
  const amount = P.integer(p, 'amount');
  if (amount !== undefined && amount < 1) throw invalidParam('amount', `Invalid positive integer: ${amount}`, 'parameter_invalid_integer');
  const reason = P.oneOf(p, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer']);
  const md = P.metadata(p);
  P.boolean(p, 'refund_application_fee');
  P.boolean(p, 'reverse_transfer');
  P.string(p, 'instructions_email');

  // Executing: errors below are stored under the idempotency key.
  let pi = null;
  let charge = null;
  if (piId) {
    pi = ctx.partition.paymentIntents.get(piId);
    if (!pi) throw resourceMissing('payment_intent', piId, 'payment_intent');
  }
  if (chargeId) {
    charge = ctx.partition.charges.get(chargeId);
    if (!charge) throw resourceMissing('charge', chargeId, 'charge');
    if (pi && charge.payment_intent !== pi.id) {
      throw invalidRequest(`Charge ${chargeId} does not belong to PaymentIntent ${piId}.`, {param: 'charge'});
    }
  }
  if (pi && !charge) {
    if (pi.status !== 'succeeded' || !pi.latest_charge) {
      throw invalidRequest(pi.status === 'requires_capture'
        ? `This PaymentIntent (${pi.id}) has not been captured; cancel it instead of refunding it.`
        : `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`,
      {param: 'payment_intent'});
    }
    charge = ctx.partition.charges.get(pi.latest_charge);
  }
  if (charge.status !== 'succeeded') {
    throw invalidRequest(`This charge (${charge.id}) can not be refunded because it failed.`, {param: 'charge'});
  }
  if (!charge.captured) {
    throw invalidRequest(`Charge ${charge.id} has not been captured; cancel its PaymentIntent instead of refunding it.`, {param: 'charge'});
  }
  const remaining = charge.amount_captured - charge.amount_refunded;
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`,
      {code: 'charge_already_refunded', doc_url: 'https://stripe.com/docs/error-codes/charge-already-refunded'});
  }
  const refundAmount = amount ?? remaining;
  if (refundAmount > remaining) {
    throw invalidRequest(`Refund amount (${money(refundAmount, charge.currency)}) is greater than unrefunded amount on charge (${money(remaining, charge.currency)})`,
      {code: 'amount_too_large', param: 'amount', doc_url: 'https://stripe.com/docs/error-codes/amount-too-large'});
  }
  const refund = {
    id: newId('re'),
    object: 'refund',
    amount: refundAmount,
    balance_transaction: newId('txn'),
    charge: charge.id,
    created: ctx.clock.now(),
    currency: charge.currency,
    destination_details: {card: {reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund'}, type: 'card'},
    metadata: P.applyMetadata({}, md),
    payment_intent: charge.payment_intent,
    reason: reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  ctx.partition.refunds.set(refund.id, refund);
  charge.amount_refunded += refundAmount;
  charge.refunded = charge.amount_refunded >= charge.amount_captured;
  emit(ctx, 'refund.created', refund);
  emit(ctx, 'charge.refunded', charge);
  return {status: 200, body: refund};
}

function getRefund(ctx, id) {
  const refund = ctx.partition.refunds.get(id);
  if (!refund) throw resourceMissing('refund', id, 'id', 404);
  return {status: 200, body: refund};
}

function listRefunds(ctx) {
  const p = ctx.params;
  P.checkKnown(p, ['payment_intent', 'charge', 'limit', 'starting_after', 'ending_before', 'created', 'expand']);
  const piId = P.string(p, 'payment_intent');
  const chargeId = P.string(p, 'charge');
  const items = [...ctx.partition.refunds.values()].reverse()
    .filter((r) => (!piId || r.payment_intent === piId) && (!chargeId || r.charge === chargeId));
  return {status: 200, body: P.paginate(items, p, '/v1/refunds')};
}

function getEvent(ctx, id) {
  const event = ctx.partition.events.find((e) => e.id === id);
  if (!event) throw resourceMissing('event', id, 'id', 404);
  return {status: 200, body: event};
}

function listEvents(ctx) {
  const p = ctx.params;
  P.checkKnown(p, ['type', 'types', 'limit', 'starting_after', 'ending_before', 'created', 'delivery_success']);
  const type = P.string(p, 'type');
  const types = P.list(p, 'types');
  const matches = (t) => (!type || (type.endsWith('*') ? t.startsWith(type.slice(0, -1)) : t === type)) &&
    (!types || types.includes(t));
  const items = [...ctx.partition.events].reverse().filter((e) => matches(e.type));
  return {status: 200, body: P.paginate(items, p, '/v1/events')};
}

export const routes = [
  ['POST', '/v1/refunds', createRefund],
  ['GET', '/v1/refunds', listRefunds],
  ['GET', '/v1/refunds/:id', getRefund],
  ['GET', '/v1/events', listEvents],
  ['GET', '/v1/events/:id', getEvent],
];
