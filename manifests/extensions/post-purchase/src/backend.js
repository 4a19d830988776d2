// The calls this extension makes to the Afterglow backend (paths fixed by ARCHITECTURE.md).
// Bodies and answers are JSON; errors are {"error": {"code", "message"}} with a 4xx/5xx status.
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

// POSTs `body` as JSON and returns the parsed answer; throws BackendError on a non-2xx answer
// and whatever fetch throws (network, timeout) otherwise. A slow backend must not hold the
// checkout: the request is abandoned after `timeoutMs`.
export async function postJson(path, body, timeoutMs = 8000) {
  const controller = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = controller ? setTimeout(() => controller.abort(), timeoutMs) : null;
  try {
    const response = await fetch(BACKEND_URL + path, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
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

// The post-purchase token (inputData.token, HS256 with the app secret, sub = referenceId) is
// what proves these requests come from this checkout; the backend verifies it (spec §3.2).
function purchaseContext(inputData) {
  return {
    surface: 'post_purchase',
    referenceId: inputData.initialPurchase.referenceId,
    token: inputData.token,
  };
}

// POST /checkout/offers -> the offers for this purchase, best first (the page shows the first).
export async function fetchOffers(inputData) {
  const data = await postJson('/checkout/offers', purchaseContext(inputData));
  return Array.isArray(data.offers) ? data.offers : [];
}

// POST /checkout/sign-changeset -> the changeset token for applyChangeset. Only the offer is
// named: the server builds `changes` from its own offer record and signs them.
export async function signChangeset(inputData, offer) {
  const data = await postJson('/checkout/sign-changeset', {
    ...purchaseContext(inputData),
    offerId: offer.id,
    offerToken: offer.token,
  });
  if (!data.token) throw new BackendError(502, 'no_token', 'sign-changeset answered without a token');
  return data.token;
}

// POST /checkout/decline: the shopper said no (for the funnel); nothing waits on the answer.
export async function recordDecline(inputData, offer) {
  await postJson(
    '/checkout/decline',
    {...purchaseContext(inputData), offerId: offer.id, offerToken: offer.token},
    3000,
  );
}
