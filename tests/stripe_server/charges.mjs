// Charges: one per payment attempt of a PaymentIntent (succeeded or failed), read-only over the
// API. Refunds update amount_refunded / refunded.
import {DECLINES, TEST_CARDS} from './cards.mjs';
import {resourceMissing} from './errors.mjs';
import * as P from './params.mjs';
import {newId} from './state.mjs';

// `decline` is a DECLINES key for a failed attempt, undefined for an authorized one.
export function newCharge(ctx, pi, pm, {decline, authenticated = false} = {}) {
  const card = TEST_CARDS[pm.card];
  const failed = decline !== undefined;
  const manual = pi.capture_method === 'manual';
  const charge = {
    id: newId('ch'),
    object: 'charge',
    amount: pi.amount,
    amount_captured: failed || manual ? 0 : pi.amount,
    amount_refunded: 0,
    application_fee_amount: pi.application_fee_amount ?? null,
    balance_transaction: failed || manual ? null : newId('txn'),
    billing_details: {address: {city: null, country: null, line1: null, line2: null, postal_code: null, state: null},
      email: null, name: null, phone: null},
    calculated_statement_descriptor: `AFTERGLOW${pi.statement_descriptor_suffix ? `* ${pi.statement_descriptor_suffix}` : ''}`.slice(0, 22),
    captured: !failed && !manual,
    created: ctx.clock.now(),
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    disputed: false,
    failure_code: failed ? DECLINES[decline].code : null,
    failure_message: failed ? DECLINES[decline].message : null,
    fraud_details: {},
    livemode: false,
    metadata: {...pi.metadata},
    outcome: failed
      ? {network_status: 'declined_by_network', reason: DECLINES[decline].decline_code, risk_level: 'normal',
        risk_score: 30, seller_message: 'The bank did not return any further details with this decline.', type: 'issuer_declined'}
      : {network_status: 'approved_by_network', reason: null, risk_level: 'normal', risk_score: 20,
        seller_message: 'Payment complete.', type: 'authorized'},
    paid: !failed,
    payment_intent: pi.id,
    payment_method: pm.id,
    payment_method_details: {
      card: {
        amount_authorized: failed ? null : pi.amount,
        brand: card.brand,
        checks: {address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass'},
        country: 'US',
        exp_month: 12,
        exp_year: new Date(ctx.clock.now() * 1000).getUTCFullYear() + 3,
        funding: card.funding,
        last4: card.last4,
        network: card.brand,
        three_d_secure: authenticated
          ? {authentication_flow: 'challenge', result: 'authenticated', version: '2.2.0'} : null,
      },
      type: 'card',
    },
    receipt_email: pi.receipt_email ?? null,
    receipt_url: null,
    refunded: false,
    review: null,
    statement_descriptor: null,
    statement_descriptor_suffix: pi.statement_descriptor_suffix ?? null,
    status: failed ? 'failed' : 'succeeded',
    transfer_group: null,
  };
  ctx.partition.charges.set(charge.id, charge);
  return charge;
}

function getCharge(ctx, id) {
  const charge = ctx.partition.charges.get(id);
  if (!charge) throw resourceMissing('charge', id, 'id', 404);
  return {status: 200, body: charge};
}

function listCharges(ctx) {
  const p = ctx.params;
  P.checkKnown(p, ['customer', 'payment_intent', 'limit', 'starting_after', 'ending_before', 'expand']);
  const customer = P.string(p, 'customer');
  const paymentIntent = P.string(p, 'payment_intent');
  const items = [...ctx.partition.charges.values()].reverse()
    .filter((c) => (!customer || c.customer === customer) && (!paymentIntent || c.payment_intent === paymentIntent));
  return {status: 200, body: P.paginate(items, p, '/v1/charges')};
}

export const routes = [
  ['GET', '/v1/charges', listCharges],
  ['GET', '/v1/charges/:id', getCharge],
];
