// Stripe's test PaymentMethods (stripe.md §5) and what each does when charged.
//
//   decline       the decline every charge gets (key into DECLINES)
//   auth          'always': 3DS on every payment, off-session too (-> authentication_required);
//                 'on_session': 3DS when the shopper is present, off-session payments succeed
//   declineAfterAuth  the decline once 3DS has been completed
//   attachFails   attaching the card to a customer already fails (a $0 check is declined)
//
// The magic ids (`pm_card_visa`, ...) are usable in every account and with every customer, as if
// attached. Real `pm_…` ids are created by POST /v1/payment_methods (card[token]=tok_…), by
// attaching a magic id to a customer, or by POST /_test/payment_methods; they carry the behaviour
// of the magic id they were made from.

export const DECLINES = {
  generic_decline: {code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.'},
  insufficient_funds: {code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.'},
  lost_card: {code: 'card_declined', decline_code: 'lost_card', message: 'Your card was declined.'},
  stolen_card: {code: 'card_declined', decline_code: 'stolen_card', message: 'Your card was declined.'},
  fraudulent: {code: 'card_declined', decline_code: 'fraudulent', message: 'Your card was declined.'},
  expired_card: {code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.', param: 'exp_month'},
  incorrect_cvc: {code: 'incorrect_cvc', decline_code: 'incorrect_cvc', message: "Your card's security code is incorrect.", param: 'cvc'},
  processing_error: {code: 'processing_error', decline_code: 'processing_error', message: 'An error occurred while processing your card. Try again in a little bit.'},
  authentication_required: {code: 'authentication_required', decline_code: 'authentication_required', message: 'Your card was declined. This transaction requires authentication.'},
};

const visa = (last4, extra = {}) => ({brand: 'visa', last4, funding: 'credit', ...extra});

export const TEST_CARDS = {
  pm_card_visa: visa('4242'),
  pm_card_visa_debit: visa('5556', {funding: 'debit'}),
  pm_card_mastercard: {brand: 'mastercard', last4: '4444', funding: 'credit'},
  pm_card_amex: {brand: 'amex', last4: '8431', funding: 'credit'},
  pm_card_chargeDeclined: visa('0002', {decline: 'generic_decline', attachFails: true}),
  pm_card_visa_chargeDeclined: visa('0002', {decline: 'generic_decline', attachFails: true}),
  pm_card_chargeDeclinedInsufficientFunds: visa('9995', {decline: 'insufficient_funds', attachFails: true}),
  pm_card_visa_chargeDeclinedInsufficientFunds: visa('9995', {decline: 'insufficient_funds', attachFails: true}),
  pm_card_visa_chargeDeclinedLostCard: visa('9987', {decline: 'lost_card', attachFails: true}),
  pm_card_visa_chargeDeclinedStolenCard: visa('9979', {decline: 'stolen_card', attachFails: true}),
  pm_card_chargeDeclinedFraudulent: visa('0019', {decline: 'fraudulent', attachFails: true}),
  pm_card_chargeDeclinedExpiredCard: visa('0069', {decline: 'expired_card', attachFails: true}),
  pm_card_chargeDeclinedIncorrectCvc: visa('0127', {decline: 'incorrect_cvc', attachFails: true}),
  pm_card_chargeDeclinedProcessingError: visa('0119', {decline: 'processing_error', attachFails: true}),
  pm_card_chargeCustomerFail: visa('0341', {decline: 'generic_decline'}),
  pm_card_authenticationRequired: visa('3184', {auth: 'always'}),
  pm_card_threeDSecure2Required: visa('3220', {auth: 'always'}),
  pm_card_authenticationRequiredOnSetup: visa('3155', {auth: 'on_session'}),
  pm_card_authenticationRequiredSetupForOffSession: visa('0446', {auth: 'on_session'}),
  pm_card_authenticationRequiredChargeDeclinedInsufficientFunds:
    visa('3178', {auth: 'always', declineAfterAuth: 'insufficient_funds'}),
};

export function isMagicId(id) {
  return Object.hasOwn(TEST_CARDS, id);
}

// tok_visa -> pm_card_visa (the legacy tokens name the same behaviours).
export function magicIdForToken(token) {
  const id = `pm_card_${String(token).replace(/^tok_/, '')}`;
  return isMagicId(id) ? id : null;
}

// The public payment_method object. `record` is a stored real pm, or {id: magic, card: magic}
// for a magic id.
export function renderPaymentMethod(record, clock) {
  const card = TEST_CARDS[record.card];
  const expYear = new Date((clock.now()) * 1000).getUTCFullYear() + 3;
  return {
    id: record.id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: {city: null, country: null, line1: null, line2: null, postal_code: null, state: null},
      email: null, name: null, phone: null,
    },
    card: {
      brand: card.brand,
      checks: {address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass'},
      country: 'US',
      display_brand: card.brand,
      exp_month: 12,
      exp_year: expYear,
      fingerprint: `fp${record.card.length}${card.last4}`,
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: {available: [card.brand], preferred: null},
      three_d_secure_usage: {supported: true},
      wallet: null,
    },
    created: record.created ?? clock.now(),
    customer: record.customer ?? null,
    livemode: false,
    metadata: record.metadata ?? {},
    type: 'card',
  };
}
