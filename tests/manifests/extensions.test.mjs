// What the extensions do, run against stand-ins for Shopify's side and a scripted backend.
// The real bundles (built as the CLI builds them) run in fresh VM contexts with a `shopify`
// global. Post-purchase renders into a real remote-ui root (the protocol the post-purchase page
// speaks) and every path must end in done(), exactly once. The Thank-you block renders with
// Preact into a minimal DOM stand-in; its backend client is also tested on its own (session
// token per request, error codes).
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {test} from 'node:test';
import vm from 'node:vm';

import {bundleExtension, extensionsDir, requireFromManifests} from './support.mjs';

const BACKEND = 'https://backend.test';
const {createRemoteRoot} = requireFromManifests('@remote-ui/core');

// A fetch that answers from `routes` (path -> (body, init) => [status, json] or throws) and
// records every request.
function scriptedFetch(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    const path = url.startsWith(BACKEND) ? url.slice(BACKEND.length) : url;
    const body = JSON.parse(init.body);
    calls.push({url, path, body, headers: init.headers});
    const route = routes[path];
    if (!route) return new Response('{}', {status: 404});
    const [status, json] = await route(body, init);
    return new Response(JSON.stringify(json), {status, headers: {'Content-Type': 'application/json'}});
  };
  return {fetch, calls};
}

const OFFER = {
  id: 'ofr_1',
  token: 'offer-token-1',
  variantId: 4242,
  productTitle: 'Travel mug',
  variantTitle: 'Black',
  description: 'Keeps coffee hot for 6 hours.',
  imageUrl: 'https://cdn.test/mug.png',
  changes: [{type: 'add_variant', variantId: 4242, quantity: 1, discount: {value: 15, valueType: 'percentage', title: '15% off'}}],
};

const INPUT_DATA = {
  extensionPoint: 'Checkout::PostPurchase::Render',
  initialPurchase: {referenceId: 'ref-123', lineItems: [], totalPriceSet: {}},
  locale: 'en',
  shop: {id: 1, domain: 'demo.myshopify.com', metafields: []},
  token: 'pp-input-token',
  version: 'unstable',
};

function money(amount) {
  return {shopMoney: {amount, currencyCode: 'USD'}, presentmentMoney: {amount, currencyCode: 'USD'}};
}

const CALCULATED = {
  status: 'processed',
  errors: [],
  calculatedPurchase: {
    subtotalPriceSet: money('25.50'),
    totalPriceSet: money('100.00'),
    totalOutstandingSet: money('30.60'),
    updatedLineItems: [{variantId: 4242, productId: 1, quantity: 1, productHandle: 'mug', priceSet: money('30.00'), totalPriceSet: money('25.50')}],
    addedShippingLines: [{priceSet: money('3.00'), presentmentTitle: 'Standard'}],
    addedTaxLines: [{priceSet: money('2.10'), rate: 0.08, title: 'Tax'}],
  },
};

const postPurchaseBundle = await bundleExtension(join(extensionsDir, 'post-purchase'), {
  env: {AFTERGLOW_BACKEND_URL: BACKEND},
});

// Runs the post-purchase bundle in a fresh context; returns the registered targets.
function loadPostPurchase(fetch) {
  const targets = {};
  const context = {
    fetch,
    Response,
    AbortController,
    setTimeout,
    clearTimeout,
    console: {warn() {}, log() {}, error() {}},
    shopify: {extend: (target, fn) => (targets[target] = fn)},
  };
  context.self = context;
  vm.runInNewContext(postPurchaseBundle, context);
  return targets;
}

// Everything the Render target gets, with counters.
function renderApi(initialData, {calculate = async () => CALCULATED, apply = async () => ({status: 'processed', errors: [], changesetApplicationsRemaining: 2})} = {}) {
  const api = {
    inputData: INPUT_DATA,
    storage: {initialData, update: async () => {}},
    calculated: [],
    applied: [],
    doneCalls: 0,
    calculateChangeset: async (changeset) => {
      api.calculated.push(changeset);
      return calculate(changeset);
    },
    applyChangeset: async (token) => {
      api.applied.push(token);
      return apply(token);
    },
    done: async () => {
      api.doneCalls += 1;
    },
  };
  return api;
}

const COMPONENTS = ['BlockStack', 'Bookend', 'Button', 'CalloutBanner', 'Heading', 'Image', 'Layout', 'Separator', 'Text', 'TextBlock', 'TextContainer'];

function newRoot() {
  // `components` makes the root reject any component the post-purchase page does not know.
  return createRemoteRoot(() => {}, {components: COMPONENTS});
}

function walk(node, visit) {
  visit(node);
  for (const child of node.children || []) walk(child, visit);
}

function textOf(node) {
  let out = '';
  walk(node, (n) => {
    if (typeof n.text === 'string') out += n.text + ' ';
  });
  return out;
}

function buttons(root) {
  const found = [];
  walk(root, (n) => n.type === 'Button' && found.push(n));
  return {accept: found.find((b) => b.props.submit), decline: found.find((b) => b.props.subdued)};
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

// Objects made inside the VM context have that context's prototypes; compare their data.
const plain = (value) => JSON.parse(JSON.stringify(value));

test('post-purchase ShouldRender fetches the offer with the purchase token and stores it', async () => {
  const backend = scriptedFetch({'/checkout/offers': async () => [200, {offers: [OFFER, {...OFFER, id: 'ofr_2'}]}]});
  const targets = loadPostPurchase(backend.fetch);
  const stored = [];
  const result = await targets['Checkout::PostPurchase::ShouldRender']({
    inputData: INPUT_DATA,
    storage: {initialData: undefined, update: async (data) => stored.push(data)},
  });
  assert.deepEqual(plain(result), {render: true});
  assert.equal(backend.calls.length, 1);
  assert.equal(backend.calls[0].url, `${BACKEND}/checkout/offers`);
  assert.deepEqual(backend.calls[0].body, {surface: 'post_purchase', referenceId: 'ref-123', token: 'pp-input-token'});
  assert.deepEqual(plain(stored), [{offer: OFFER}]);
});

test('post-purchase ShouldRender renders nothing when there is no offer or the backend fails', async () => {
  for (const route of [async () => [200, {offers: []}], async () => [500, {error: {code: 'internal', message: 'x'}}], async () => { throw new TypeError('network'); }]) {
    const backend = scriptedFetch({'/checkout/offers': route});
    const targets = loadPostPurchase(backend.fetch);
    const stored = [];
    const result = await targets['Checkout::PostPurchase::ShouldRender']({inputData: INPUT_DATA, storage: {update: async (d) => stored.push(d)}});
    assert.deepEqual(plain(result), {render: false});
    assert.deepEqual(stored, []);
  }
});

test('post-purchase Render shows the full price breakdown from calculateChangeset', async () => {
  const targets = loadPostPurchase(scriptedFetch({}).fetch);
  const root = newRoot();
  const api = renderApi({offer: OFFER});
  targets['Checkout::PostPurchase::Render'](root, api);
  await settle();
  assert.deepEqual(plain(api.calculated), [{changes: OFFER.changes}]);
  const text = textOf(root);
  for (const expected of ['Travel mug', 'Black', 'Price', '$30.00', 'Discount', '-$4.50', 'Subtotal', '$25.50', 'Shipping', '$3.00', 'Taxes', '$2.10', 'Total', '$30.60', 'Pay now · $30.60', 'Decline this offer']) {
    assert.ok(text.includes(expected), `${expected} in: ${text}`);
  }
  assert.equal(buttons(root).accept.props.disabled, false);
  assert.equal(api.doneCalls, 0);
});

test('post-purchase accept: backend signs, applyChangeset applies the signed token, then done()', async () => {
  const backend = scriptedFetch({'/checkout/sign-changeset': async () => [200, {token: 'signed-changeset'}]});
  const targets = loadPostPurchase(backend.fetch);
  const root = newRoot();
  const api = renderApi({offer: OFFER});
  targets['Checkout::PostPurchase::Render'](root, api);
  await settle();
  const {accept} = buttons(root);
  await Promise.all([accept.props.onPress(), accept.props.onPress()]); // a double click
  await settle();
  assert.equal(backend.calls.length, 1);
  assert.equal(backend.calls[0].path, '/checkout/sign-changeset');
  assert.deepEqual(backend.calls[0].body, {surface: 'post_purchase', referenceId: 'ref-123', token: 'pp-input-token', offerId: 'ofr_1', offerToken: 'offer-token-1'});
  assert.ok(!('changes' in backend.calls[0].body), 'the server builds the changes');
  assert.deepEqual(api.applied, ['signed-changeset']);
  assert.equal(api.doneCalls, 1);
});

test('post-purchase: every failure still ends in done(), once', async () => {
  const cases = {
    'signing refused': {routes: {'/checkout/sign-changeset': async () => [403, {error: {code: 'forbidden', message: 'no'}}]}, press: 'accept', applied: 0},
    'backend unreachable': {routes: {'/checkout/sign-changeset': async () => { throw new TypeError('network'); }}, press: 'accept', applied: 0},
    'payment failed': {routes: {'/checkout/sign-changeset': async () => [200, {token: 't'}]}, press: 'accept', applied: 1, apply: async () => ({status: 'partially_processed', errors: [{code: 'payment_required', message: 'declined'}]})},
    'applyChangeset threw': {routes: {'/checkout/sign-changeset': async () => [200, {token: 't'}]}, press: 'accept', applied: 1, apply: async () => { throw new Error('boom'); }},
    'decline recorded': {routes: {'/checkout/decline': async () => [200, {}]}, press: 'decline', applied: 0},
    'decline not recorded': {routes: {'/checkout/decline': async () => [500, {}]}, press: 'decline', applied: 0},
    'offer no longer priceable': {routes: {}, press: null, applied: 0, calculate: async () => ({status: 'unprocessed', errors: [{code: 'insufficient_inventory', message: 'sold out'}]})},
  };
  for (const [name, c] of Object.entries(cases)) {
    const backend = scriptedFetch(c.routes);
    const targets = loadPostPurchase(backend.fetch);
    const root = newRoot();
    const api = renderApi({offer: OFFER}, {apply: c.apply, calculate: c.calculate});
    targets['Checkout::PostPurchase::Render'](root, api);
    await settle();
    if (c.press) await buttons(root)[c.press].props.onPress();
    await settle();
    assert.equal(api.applied.length, c.applied, name);
    assert.equal(api.doneCalls, 1, `${name}: done() calls`);
    if (c.press === 'decline') {
      assert.deepEqual(backend.calls.map((call) => call.path), ['/checkout/decline'], name);
      assert.equal(backend.calls[0].body.offerId, 'ofr_1', name);
    }
  }
});

test('post-purchase Render without a stored offer goes straight to done()', async () => {
  const targets = loadPostPurchase(scriptedFetch({}).fetch);
  const api = renderApi(undefined);
  targets['Checkout::PostPurchase::Render'](newRoot(), api);
  await settle();
  assert.equal(api.doneCalls, 1);
  assert.deepEqual(api.calculated, []);
});

// The thank-you block's backend client, imported as the extension source is.
const thankYou = await import(pathToFileURL(join(extensionsDir, 'thank-you', 'src', 'backend.js')).href);

async function withFetch(routes, fn) {
  const saved = globalThis.fetch;
  const backend = scriptedFetch(
    Object.fromEntries(Object.entries(routes).map(([path, route]) => [thankYou.BACKEND_URL + path, route])),
  );
  globalThis.fetch = (url, init) => backend.fetch(url, init);
  try {
    await fn(backend.calls);
  } finally {
    globalThis.fetch = saved;
  }
}

const ORDER_ID = 'gid://shopify/OrderIdentity/1001';
let tokenSerial = 0;
const getToken = async () => `session-token-${++tokenSerial}`;

test('thank-you: offers are fetched with a fresh session token as a Bearer header', async () => {
  await withFetch({'/checkout/offers': async () => [200, {offers: [OFFER]}]}, async (calls) => {
    assert.deepEqual(await thankYou.fetchOffers(getToken, ORDER_ID), [OFFER]);
    await thankYou.fetchOffers(getToken, ORDER_ID);
    assert.deepEqual(calls[0].body, {surface: 'thank_you', orderId: ORDER_ID});
    assert.match(calls[0].headers.Authorization, /^Bearer session-token-\d+$/);
    assert.notEqual(calls[0].headers.Authorization, calls[1].headers.Authorization, 'a token per request');
    assert.equal(calls[0].headers['Content-Type'], 'application/json');
  });
});

test('thank-you: accept posts the offer and passes every payment outcome through', async () => {
  for (const status of ['succeeded', 'requires_action', 'declined', 'processing']) {
    const answer = {status, message: `it ${status}`, actionUrl: status === 'requires_action' ? 'https://bank.test/3ds' : undefined};
    await withFetch({'/checkout/accept': async () => [200, answer]}, async (calls) => {
      const result = await thankYou.acceptOffer(getToken, ORDER_ID, OFFER);
      assert.equal(result.status, status);
      assert.equal(result.actionUrl, answer.actionUrl);
      assert.deepEqual(calls[0].body, {surface: 'thank_you', orderId: ORDER_ID, offerId: 'ofr_1', offerToken: 'offer-token-1'});
      assert.ok(!('card' in calls[0].body) && !('amount' in calls[0].body), 'no card or price from the browser');
    });
  }
});

test('thank-you: backend errors surface with their code and message', async () => {
  await withFetch({'/checkout/accept': async () => [409, {error: {code: 'offer_expired', message: 'This offer has expired.'}}]}, async () => {
    await assert.rejects(thankYou.acceptOffer(getToken, ORDER_ID, OFFER), (error) => {
      assert.equal(error.status, 409);
      assert.equal(error.code, 'offer_expired');
      assert.equal(error.message, 'This offer has expired.');
      return true;
    });
  });
  await withFetch({'/checkout/accept': async () => [200, {status: 'paid?'}]}, async () => {
    await assert.rejects(thankYou.acceptOffer(getToken, ORDER_ID, OFFER), /status paid\?/);
  });
});


// The Thank-you block itself: the real bundle renders (Preact) into a minimal DOM stand-in, the
// way Remote DOM gives it one, with a `shopify` global and a scripted backend.
class FakeNode {
  constructor(localName, nodeType = 1) {
    this.localName = localName;
    this.nodeName = localName.toUpperCase();
    this.nodeType = nodeType;
    this.childNodes = [];
    this.parentNode = null;
    this.attributes = {};
    this.listeners = {};
  }
  get firstChild() {
    return this.childNodes[0] || null;
  }
  get nextSibling() {
    const siblings = this.parentNode ? this.parentNode.childNodes : [];
    return siblings[siblings.indexOf(this) + 1] || null;
  }
  insertBefore(child, before) {
    if (child.parentNode) child.parentNode.removeChild(child);
    const at = before ? this.childNodes.indexOf(before) : -1;
    if (at < 0) this.childNodes.push(child);
    else this.childNodes.splice(at, 0, child);
    child.parentNode = this;
    return child;
  }
  appendChild(child) {
    return this.insertBefore(child, null);
  }
  removeChild(child) {
    this.childNodes.splice(this.childNodes.indexOf(child), 1);
    child.parentNode = null;
    return child;
  }
  remove() {
    if (this.parentNode) this.parentNode.removeChild(this);
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  removeAttribute(name) {
    delete this.attributes[name];
  }
  addEventListener(type, listener) {
    this.listeners[type] = listener;
  }
  removeEventListener(type) {
    delete this.listeners[type];
  }
}
FakeNode.prototype.onclick = null; // an element knows its DOM events, so Preact uses "click"
FakeNode.prototype.namespaceURI = 'http://www.w3.org/1999/xhtml';

const fakeDocument = {
  createElement: (name) => new FakeNode(name),
  createElementNS: (namespace, name) => new FakeNode(name),
  createTextNode: (data) => Object.assign(new FakeNode('#text', 3), {data}),
};

function find(node, predicate, out = []) {
  if (predicate(node)) out.push(node);
  for (const child of node.childNodes) find(child, predicate, out);
  return out;
}

function textIn(node) {
  return find(node, (n) => n.nodeType === 3).map((n) => n.data).join('');
}

const thankYouBundle = await bundleExtension(join(extensionsDir, 'thank-you'), {
  env: {AFTERGLOW_BACKEND_URL: BACKEND},
});

const TY_OFFER = {
  id: 'ofr_9',
  token: 'offer-token-9',
  headline: 'Complete your set',
  productTitle: 'Travel mug',
  variantTitle: 'Black',
  imageUrl: 'https://cdn.test/mug.png',
  pricing: {
    price: {amount: '30.00', currencyCode: 'USD'},
    discount: {amount: '4.50', currencyCode: 'USD'},
    subtotal: {amount: '25.50', currencyCode: 'USD'},
    taxes: {amount: '2.04', currencyCode: 'USD'},
    total: {amount: '27.54', currencyCode: 'USD'},
  },
};

// Renders the block; returns its DOM, the backend's request log and a way to let it settle.
async function renderThankYou(routes) {
  const backend = scriptedFetch(routes);
  const body = new FakeNode('body');
  const targets = {};
  const context = {
    fetch: backend.fetch,
    Response,
    AbortController,
    setTimeout,
    clearTimeout,
    requestAnimationFrame: (callback) => setTimeout(callback, 0), // when Preact runs effects
    cancelAnimationFrame: clearTimeout,
    console: {warn() {}, log() {}, error() {}},
    document: {...fakeDocument, body},
    shopify: {
      extend: (target, fn) => (targets[target] = fn),
      orderConfirmation: {value: {order: {id: ORDER_ID}, number: '1001', isFirstOrder: false}},
      sessionToken: {get: async () => 'session-token'},
      i18n: {formatCurrency: (n, {currency}) => `${n < 0 ? '-' : ''}${currency} ${Math.abs(n).toFixed(2)}`},
    },
  };
  context.self = context;
  context.globalThis = context;
  vm.runInNewContext(thankYouBundle, context);
  await targets['purchase.thank-you.block.render']();
  // Lets every queued step run (fetch, body read, state update, Preact's timer-scheduled
  // effects): a fixed number of event-loop turns, no waiting on the clock for an outcome.
  const idle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  };
  await idle();
  const button = (label) => find(body, (n) => n.localName === 's-button' && textIn(n).startsWith(label))[0];
  const click = async (label) => {
    const target = button(label);
    assert.ok(target, `a "${label}" button in: ${textIn(body)}`);
    target.listeners.click.call(target, {type: 'click'});
    await idle();
  };
  const banner = () => find(body, (n) => n.localName === 's-banner')[0];
  return {body, calls: backend.calls, button, click, banner};
}

test('thank-you block shows the offer with its price breakdown', async () => {
  const block = await renderThankYou({'/checkout/offers': async () => [200, {offers: [TY_OFFER]}]});
  assert.deepEqual(block.calls.map((c) => c.path), ['/checkout/offers']);
  assert.equal(block.calls[0].headers.Authorization, 'Bearer session-token');
  const text = textIn(block.body);
  for (const expected of ['Travel mug', 'Black', 'Price', 'USD 30.00', 'Discount', '-USD 4.50', 'Subtotal', 'USD 25.50', 'Taxes', 'USD 2.04', 'Total', 'USD 27.54', 'No card details needed']) {
    assert.ok(text.includes(expected), `${expected} in: ${text}`);
  }
  assert.ok(!text.includes('Shipping'), 'a row the backend left out is not shown');
  assert.equal(find(block.body, (n) => n.localName === 's-section')[0].attributes.heading, 'Complete your set');
  assert.ok(block.button('Add to order · USD 27.54'));
  assert.ok(block.button('No thanks'));
});

test('thank-you block: one click, the bank asks to confirm, check again, added to the order', async () => {
  const answers = [
    {status: 'requires_action', actionUrl: 'https://bank.test/3ds/abc'},
    {status: 'succeeded', charged: {amount: '27.54', currencyCode: 'USD'}},
  ];
  const block = await renderThankYou({
    '/checkout/offers': async () => [200, {offers: [TY_OFFER]}],
    '/checkout/accept': async () => [200, answers.shift()],
  });
  await block.click('Add to order');
  assert.equal(block.banner().attributes.tone, 'warning');
  const link = find(block.body, (n) => n.localName === 's-link')[0];
  assert.equal(link.attributes.href, 'https://bank.test/3ds/abc');
  await block.click('Check again');
  assert.equal(block.banner().attributes.tone, 'success');
  assert.equal(block.banner().attributes.heading, 'Added to your order');
  assert.ok(textIn(block.body).includes('USD 27.54 was charged to the card you paid with'));
  assert.equal(block.button('No thanks'), undefined, 'nothing left to decline');
  const accepts = block.calls.filter((c) => c.path === '/checkout/accept');
  assert.equal(accepts.length, 2);
  for (const call of accepts) assert.deepEqual(call.body, {surface: 'thank_you', orderId: ORDER_ID, offerId: 'ofr_9', offerToken: 'offer-token-9'});
});

test('thank-you block shows a declined card and a failed request, and offers to try again', async () => {
  const declined = await renderThankYou({
    '/checkout/offers': async () => [200, {offers: [TY_OFFER]}],
    '/checkout/accept': async () => [200, {status: 'declined', message: 'Your card has insufficient funds.'}],
  });
  await declined.click('Add to order');
  assert.equal(declined.banner().attributes.tone, 'critical');
  assert.equal(declined.banner().attributes.heading, 'Payment declined');
  assert.ok(textIn(declined.banner()).includes('insufficient funds'));
  assert.ok(declined.button('Try again'));

  const failed = await renderThankYou({
    '/checkout/offers': async () => [200, {offers: [TY_OFFER]}],
    '/checkout/accept': async () => [503, {error: {code: 'unavailable', message: 'Payments are unavailable.'}}],
  });
  await failed.click('Add to order');
  assert.equal(failed.banner().attributes.tone, 'critical');
  assert.ok(textIn(failed.banner()).includes('Payments are unavailable.'));
  assert.ok(failed.button('Try again'));
});

test('thank-you block: "No thanks" records the decline and hides the block', async () => {
  const block = await renderThankYou({
    '/checkout/offers': async () => [200, {offers: [TY_OFFER]}],
    '/checkout/decline': async () => [200, {}],
  });
  await block.click('No thanks');
  assert.equal(textIn(block.body), '');
  assert.deepEqual(block.calls.map((c) => c.path), ['/checkout/offers', '/checkout/decline']);
  assert.deepEqual(block.calls[1].body, {surface: 'thank_you', orderId: ORDER_ID, offerId: 'ofr_9', offerToken: 'offer-token-9'});
});

test('thank-you block renders nothing without an offer or a backend', async () => {
  for (const route of [async () => [200, {offers: []}], async () => [500, {}], async () => { throw new TypeError('network'); }]) {
    const block = await renderThankYou({'/checkout/offers': route});
    assert.equal(textIn(block.body), '');
    assert.equal(find(block.body, (n) => n.localName === 's-button').length, 0);
  }
});
