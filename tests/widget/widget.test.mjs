// checkout/widget/widget.js, the thank-you widget for storefronts that are not Shopify: its pure
// part (state machine, requests, money and countdown text), loaded in a Node `vm` context with a
// stub `document`, exactly as a browser would load the file (no build step, no exports). The
// page part (DOM) is covered by tests/browser/demo.test.mjs in Chromium.
//
// Run by ctest (tests/CMakeLists.txt): node --test tests/widget/widget.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const file = resolve(here, '..', '..', 'checkout', 'widget', 'widget.js');
const source = readFileSync(file, 'utf8');

// Loads the file as a classic script into a fresh context whose `document` has no scripts.
function load() {
  let queried = 0;
  const context = {
    document: { readyState: 'complete', querySelectorAll: () => { ++queried; return []; } },
  };
  vm.createContext(context);
  vm.runInContext(source, context, { filename: 'widget.js' });
  return { widget: context.AfterglowWidget, queried: () => queried };
}

const { widget, queried } = load();
const core = widget.core;
const usd = (amount) => ({ amount, currencyCode: 'USD' });
const offer = (id, extra = {}) => ({ id, token: `tok-${id}`, productTitle: `Item ${id}`, ...extra });
// The state after the shopper clicked accept on `o` (the usual starting point).
const accepting = (o = offer(7), caps) => core.reduce({ phase: 'offer', offer: o }, { type: 'accept' }, caps);
const answer = (state, result, caps) => core.reduce(state, { type: 'accept_result', result }, caps);
// Objects made inside the vm context have that context's prototypes; deepStrictEqual wants ours.
const plain = (value) => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

test('the file stays under 15 KB unminified and never writes HTML', () => {
  const bytes = statSync(file).size;
  console.log(`widget.js: ${bytes} bytes (${(bytes / 1024).toFixed(1)} KB, limit 15 KB)`);
  assert.ok(bytes < 15 * 1024, `widget.js is ${bytes} bytes`);
  assert.doesNotMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  assert.doesNotMatch(source, /\bimport\b|\brequire\(/, 'no dependencies');
});

test('loading it defines AfterglowWidget and looks for its script tags', () => {
  assert.equal(typeof widget.mount, 'function');
  assert.equal(queried(), 1, 'auto-mount looked for <script data-order-id> once');
});

test('money is formatted in the offer currency', () => {
  assert.equal(core.formatMoney(usd('12.5'), 'en-US'), '$12.50');
  assert.equal(core.formatMoney({ amount: '1234.5', currencyCode: 'eur' }, 'de-DE'), '1.234,50\u00a0€');
  assert.equal(core.formatMoney({ amount: '500', currencyCode: 'JPY' }, 'en-US'), '¥500');
  assert.equal(core.formatMoney(usd(-3), 'en-US'), '-$3.00');
  assert.equal(core.formatMoney({ amount: '2.00', currencyCode: 'NOTACODE' }, 'en-US'), '2.00 NOTACODE');
  assert.equal(core.formatMoney(null), '');
  assert.equal(core.formatMoney(usd('abc')), '');
});

test('the breakdown negates the discount, strikes a higher compare-at price, skips absent rows', () => {
  const rows = core.breakdownRows({ price: usd('40.00'), discount: usd('6.00'), total: usd('34.00'),
                                    compareAt: usd('50.00') }, 'en-US');
  assert.deepEqual(plain(rows.map((r) => [r.key, r.label, r.text, r.compareAt || ''])), [
    ['price', 'Price', '$40.00', '$50.00'],
    ['discount', 'Discount', '-$6.00', ''],
    ['total', 'Total', '$34.00', ''],
  ]);
  const notHigher = core.breakdownRows({ price: usd('40.00'), compareAt: usd('40.00') }, 'en-US');
  assert.equal(notHigher[0].compareAt, undefined, 'a compare-at price that is not higher is not shown');
  assert.deepEqual(plain(core.breakdownRows(undefined)), []);
});

test('the countdown reads minutes and seconds, hours when needed, then expired', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  assert.equal(core.countdownText(now + 15 * 60000 - 1000, now), 'Offer ends in 14:59');
  assert.equal(core.countdownText(now + 5000, now), 'Offer ends in 0:05');
  assert.equal(core.countdownText(now + 4500, now), 'Offer ends in 0:05', 'partial seconds round up');
  assert.equal(core.countdownText(now + 3723000, now), 'Offer ends in 1:02:03');
  assert.equal(core.countdownText(now, now), 'Offer expired');
  assert.equal(core.countdownText(NaN, now), '');
  assert.equal(core.expiryMs({ expiresAt: '2026-01-01T12:15:00Z' }), now + 15 * 60000);
  assert.equal(core.expiryMs({ expiresAt: now }), now);
  assert.ok(Number.isNaN(core.expiryMs({})));
});

test('requests carry only ids and the offer token, with the session token as a Bearer', () => {
  const ctx = { orderId: 'gid://shopify/Order/1001', backend: 'https://app.example/' };
  const offers = core.buildRequest('offers', ctx, null, 'jwt-1');
  assert.equal(offers.url, 'https://app.example/checkout/offers');
  assert.equal(offers.init.method, 'POST');
  assert.equal(offers.init.headers.Authorization, 'Bearer jwt-1');
  assert.equal(offers.init.headers['Content-Type'], 'application/json');
  assert.deepEqual(JSON.parse(offers.init.body), { surface: 'thank_you', orderId: 'gid://shopify/Order/1001' });

  const accept = core.buildRequest('accept', ctx, offer(7, { pricing: { total: usd('1.00') } }), 'jwt-2');
  assert.equal(accept.url, 'https://app.example/checkout/accept');
  assert.deepEqual(JSON.parse(accept.init.body),
    { surface: 'thank_you', orderId: 'gid://shopify/Order/1001', offerId: 7, offerToken: 'tok-7' },
    'nothing about price or item is sent');
  const decline = core.buildRequest('decline', { orderId: 5, backend: '' }, offer(8), '');
  assert.equal(decline.url, '/checkout/decline');
  assert.equal(decline.init.headers.Authorization, undefined, 'no token, no header');
});

test('the first offer is shown; none, or a failure, shows nothing', () => {
  const s = core.reduce({ phase: 'loading' }, { type: 'offers', offers: [offer(1), offer(2)] });
  assert.equal(s.phase, 'offer');
  assert.equal(s.offer.id, 1);
  assert.deepEqual(plain(core.acceptButton(s)), { label: 'Add to my order', enabled: true });
  assert.equal(core.reduce({ phase: 'loading' }, { type: 'offers', offers: [] }).phase, 'none');
  assert.equal(core.reduce({ phase: 'loading' }, { type: 'offers_failed', error: 'x' }).phase, 'none');
});

test('accept posts once: a double click while in flight changes nothing', () => {
  const s = accepting();
  assert.equal(s.phase, 'accepting');
  assert.deepEqual(plain(core.effectFor(s)), { type: 'post_accept' });
  assert.deepEqual(plain(core.acceptButton(s)), { label: 'Adding…', enabled: false });
  assert.equal(core.reduce(s, { type: 'accept' }), s, 'the second click is a no-op');
});

test('succeeded says so; a next offer is rendered in its place with that notice', () => {
  const done = answer(accepting(), { status: 'succeeded', charged: usd('34.00') });
  assert.equal(done.phase, 'succeeded');
  assert.equal(done.message, 'Added to your order: Item 7');
  assert.equal(core.acceptButton(done), null, 'nothing more to click');
  assert.equal(core.effectFor(done), null);
  assert.equal(core.reduce(done, { type: 'accept' }), done, 'a final outcome takes no more accepts');

  const next = answer(accepting(), { status: 'succeeded', next: offer(9) });
  assert.equal(next.phase, 'offer');
  assert.equal(next.offer.id, 9);
  assert.deepEqual(plain(next.notice), { tone: 'success', text: 'Added to your order: Item 7' });
  assert.equal(core.reduce(next, { type: 'accept' }).offer.id, 9, 'the next accept is for the next offer');
});

test('declined shows the message, and the downsell when there is one', () => {
  const d = answer(accepting(), { status: 'declined', message: 'Your card has insufficient funds.' });
  assert.equal(d.phase, 'declined');
  assert.equal(d.message, 'Your card has insufficient funds.');
  assert.equal(core.acceptButton(d), null);
  const withDownsell = answer(accepting(), { status: 'declined', message: 'Declined.', next: offer(3) });
  assert.equal(withDownsell.phase, 'offer');
  assert.equal(withDownsell.offer.id, 3);
  assert.deepEqual(plain(withDownsell.notice), { tone: 'critical', text: 'Declined.' });
  assert.equal(answer(accepting(), { status: 'declined' }).message, core.MESSAGES.declined);
});

test('requires_action without Stripe.js asks the shopper and checks again on the button', () => {
  const s = answer(accepting(), { status: 'requires_action', clientSecret: 'pi_1_secret_x' });
  assert.equal(s.phase, 'requires_action');
  assert.equal(s.message, 'Your bank needs you to confirm this payment');
  assert.equal(s.clientSecret, undefined, 'no Stripe.js: the secret is not kept');
  assert.equal(core.effectFor(s), null, 'waits for the shopper');
  assert.deepEqual(plain(core.acceptButton(s)), { label: 'Check again', enabled: true });
  const again = core.reduce(s, { type: 'accept' });
  assert.equal(again.phase, 'accepting');
  assert.deepEqual(plain(core.effectFor(again)), { type: 'post_accept' }, 'Check again re-posts the accept');
});

test('requires_action with Stripe.js runs handleNextAction, then re-posts until the webhook settled it', () => {
  const caps = { stripe: true };
  const s = answer(accepting(undefined, caps), { status: 'requires_action', clientSecret: 'pi_1_secret_x' }, caps);
  assert.deepEqual(plain(core.effectFor(s)), { type: 'stripe_next_action', clientSecret: 'pi_1_secret_x' });
  const after = core.reduce(s, { type: 'action_done' }, caps);
  assert.equal(after.phase, 'accepting');
  assert.equal(after.actionDone, true);
  // The server has not heard from Stripe yet: keep checking, without a second challenge.
  const waiting = answer(after, { status: 'requires_action', clientSecret: 'pi_1_secret_x' }, caps);
  assert.equal(waiting.phase, 'processing');
  assert.equal(core.effectFor(waiting).type, 'recheck');
  const recheck = core.reduce(waiting, { type: 'accept' }, caps);
  assert.equal(recheck.phase, 'accepting');
  const done = answer(recheck, { status: 'succeeded' }, caps);
  assert.equal(done.phase, 'succeeded');
});

test('processing re-checks after a delay a few times, then offers Check again', () => {
  let s = accepting();
  for (let i = 0; i < core.MAX_RECHECKS; ++i) {
    s = answer(s, { status: 'processing' });
    assert.equal(s.phase, 'processing');
    assert.equal(s.message, 'Processing…');
    const fx = core.effectFor(s);
    assert.equal(fx.type, 'recheck', `re-check ${i + 1}`);
    assert.ok(fx.delayMs > 0);
    assert.equal(core.acceptButton(s).enabled, false, 'no button while a re-check is scheduled');
    s = core.reduce(s, { type: 'accept' });
    assert.equal(s.phase, 'accepting');
  }
  s = answer(s, { status: 'processing' });
  assert.equal(core.effectFor(s), null, 'it stops re-checking on its own');
  assert.deepEqual(plain(core.acceptButton(s)), { label: 'Check again', enabled: true });
});

test('refunded and failed are final with their message; errors offer Try again', () => {
  const refunded = answer(accepting(), { status: 'refunded' });
  assert.equal(refunded.phase, 'refunded');
  assert.equal(refunded.message, core.MESSAGES.refunded);
  assert.equal(core.acceptButton(refunded), null);
  const failed = answer(accepting(), { status: 'failed', message: 'Stripe refused the charge.' });
  assert.equal(failed.message, 'Stripe refused the charge.');
  assert.equal(core.acceptButton(failed), null);

  const err = core.reduce(accepting(), { type: 'accept_failed', message: 'Could not reach the server.' });
  assert.equal(err.phase, 'error');
  assert.deepEqual(plain(core.acceptButton(err)), { label: 'Try again', enabled: true });
  assert.equal(core.reduce(err, { type: 'accept' }).phase, 'accepting');
  assert.equal(answer(accepting(), { status: 'bogus' }).phase, 'error', 'an unknown status is an error');
});

test('No thanks hides the offer unless the decline answer brings a next one; expiry ends the offer', () => {
  const s = { phase: 'offer', offer: offer(1) };
  const gone = core.reduce(s, { type: 'decline' });
  assert.equal(gone.phase, 'dismissed');
  assert.equal(core.reduce(gone, { type: 'decline_result' }), gone);
  const downsell = core.reduce(gone, { type: 'decline_result', next: offer(2) });
  assert.equal(downsell.phase, 'offer');
  assert.equal(downsell.offer.id, 2);

  const expired = core.reduce(s, { type: 'expire' });
  assert.equal(expired.phase, 'expired');
  assert.equal(core.acceptButton(expired), null, 'an expired offer cannot be accepted');
  assert.equal(core.reduce(accepting(), { type: 'expire' }).phase, 'accepting', 'an accept in flight is not cut off');
});
