// The calls this block makes to the Afterglow backend (paths fixed by ARCHITECTURE.md).
// Every request carries the checkout session token as `Authorization: Bearer <jwt>` (HS256 with
// the app secret, dest = the shop, 5 min TTL): the backend trusts its claims, never the body's,
// for which shop this is (spec §4). Bodies and answers are JSON; errors are
// {"error": {"code", "message"}} with a 4xx/5xx status.
//
// The backend is ours, not the merchant's, so its base URL is a build-time constant rather than a
// merchant setting: `shopify app build|deploy` defines `process.env.<NAME>` for every variable
// in its environment, so `AFTERGLOW_BACKEND_URL=https://… shopify app deploy` bakes it in.
// Without the variable the default below (the app's application_url) is used.
export const DEFAULT_BACKEND_URL = 'https://afterglow.example.com';

export const BACKEND_URL = backendUrl();

function backendUrl() {
  let configured;
  try {
    configured = process.env.AFTERGLOW_BACKEND_URL;
  } catch {
    configured = undefined; // no `process` in the checkout sandbox: the variable was not set
  }
  return String(configured || DEFAULT_BACKEND_URL).replace(/\/+$/, '');
}

export class BackendError extends Error {
  constructor(status, code, message) {
    super(message || `backend answered ${status}`);
    this.status = status;
    this.code = code || 'http_' + status;
  }
}

// POSTs `body` as JSON with the session token from `getToken()` (call it per request: Shopify
// caches the token and renews it when it expires). Returns the parsed answer; throws
// BackendError on a non-2xx answer and whatever fetch throws (network, timeout) otherwise.
export async function postJson(path, body, getToken, timeoutMs = 10000) {
  const token = await getToken();
  const controller = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = controller ? setTimeout(() => controller.abort(), timeoutMs) : null;
  try {
    const response = await fetch(BACKEND_URL + path, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', Authorization: `Bearer ${token}`},
      body: JSON.stringify(body),
      signal: controller ? controller.signal : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new BackendError(response.status, error.code, error.message);
    }
    return data;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

// POST /checkout/offers -> the offers for this order, best first (the block shows the first).
export async function fetchOffers(getToken, orderId) {
  const data = await postJson('/checkout/offers', {surface: 'thank_you', orderId}, getToken);
  return Array.isArray(data.offers) ? data.offers : [];
}

// The outcomes of POST /checkout/accept. The charge is idempotent per (shop, order, offer), so
// posting again for the same offer returns the state of the same charge: that is how the block
// checks again after the shopper's bank confirmed a payment (requires_action).
export const ACCEPT_STATUSES = ['succeeded', 'processing', 'requires_action', 'declined'];

// POST /checkout/accept -> {status, message?, actionUrl?, charged?: {amount, currencyCode}}.
export async function acceptOffer(getToken, orderId, offer) {
  const data = await postJson(
    '/checkout/accept',
    {surface: 'thank_you', orderId, offerId: offer.id, offerToken: offer.token},
    getToken,
    20000, // the backend waits for the payment processor
  );
  if (!ACCEPT_STATUSES.includes(data.status)) {
    throw new BackendError(502, 'bad_status', `accept answered status ${data.status}`);
  }
  return data;
}

// POST /checkout/decline: the shopper said no (for the funnel).
export async function declineOffer(getToken, orderId, offer) {
  await postJson(
    '/checkout/decline',
    {surface: 'thank_you', orderId, offerId: offer.id, offerToken: offer.token},
    getToken,
    5000,
  );
}
