// Stripe error objects (stripe.md §1): {"error": {type, code, decline_code?, message, param?,
// doc_url?, payment_intent?, charge?, ...}}. Handlers throw StripeError; the pipeline renders it.
//
// `stored` says whether the idempotency layer keeps the outcome under the request's key
// (stripe.md §2): an error raised once the endpoint has started executing is stored (declines,
// unknown customer, wrong state), a parameter-validation error is not.

export class StripeError extends Error {
  constructor(status, fields, {stored = true, headers = {}} = {}) {
    super(fields.message);
    this.status = status;
    this.fields = fields;
    this.stored = stored;
    this.headers = headers;
  }

  body() {
    const error = {};
    for (const [k, v] of Object.entries(this.fields)) if (v !== undefined) error[k] = v;
    return {error};
  }
}

export function docUrl(code) {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

// Parameter validation (400, not stored under the idempotency key).
// Stripe leaves `code` out for some of these (e.g. a value outside an enum).
export function invalidParam(param, message, code = undefined) {
  return new StripeError(400, {
    type: 'invalid_request_error', code, doc_url: code && docUrl(code), message, param,
  }, {stored: false});
}

export function missingParam(param) {
  return new StripeError(400, {
    type: 'invalid_request_error', code: 'parameter_missing', doc_url: docUrl('parameter_missing'),
    message: `Missing required param: ${param}.`, param,
  }, {stored: false});
}

export function unknownParam(param) {
  return new StripeError(400, {
    type: 'invalid_request_error', code: 'parameter_unknown', doc_url: docUrl('parameter_unknown'),
    message: `Received unknown parameter: ${param}`, param,
  }, {stored: false});
}

// A referenced object that does not exist: 400 when it was named by a parameter, 404 when it is
// the object in the URL.
export function resourceMissing(kind, id, param, status = 400) {
  return new StripeError(status, {
    type: 'invalid_request_error', code: 'resource_missing', doc_url: docUrl('resource_missing'),
    message: `No such ${kind}: '${id}'`, param,
  });
}

export function unexpectedState(message, paymentIntent) {
  return new StripeError(400, {
    type: 'invalid_request_error', code: 'payment_intent_unexpected_state',
    doc_url: docUrl('payment_intent_unexpected_state'), message, payment_intent: paymentIntent,
  });
}

export function invalidRequest(message, extra = {}, options = {}) {
  return new StripeError(400, {type: 'invalid_request_error', message, ...extra}, options);
}
