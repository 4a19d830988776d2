// shopify.app.toml and the extension TOMLs parse, carry the keys the Shopify CLI needs, and
// agree with the binary: the subscribed webhook topics are exactly the topics with a handler and
// the scopes are kRequiredScopes, both read from `afterglow describe`.
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {test} from 'node:test';

import {afterglowBinary, extensionsDir, manifestsDir, readToml} from './support.mjs';

const app = readToml(join(manifestsDir, 'shopify.app.toml'));
const COMPLIANCE_TOPICS = ['customers/data_request', 'customers/redact', 'shop/redact'];
const WEBHOOK_PATH = '/webhooks/shopify';

// Run with an empty environment: describe must need no config, database or secret.
function describe() {
  const out = execFileSync(afterglowBinary(), ['describe'], {env: {}, encoding: 'utf8'});
  return JSON.parse(out);
}

test('shopify.app.toml carries the app keys', () => {
  assert.equal(typeof app.client_id, 'string', 'client_id (written by `shopify app config link`)');
  assert.ok(app.name, 'name');
  assert.equal(app.embedded, true, 'embedded');
  const url = new URL(app.application_url);
  assert.equal(url.protocol, 'https:');
  // The CLI resolves a relative webhook uri by string concatenation with application_url, so
  // application_url must be a bare origin for /webhooks/shopify to land on our route.
  assert.equal(app.application_url.replace(/\/+$/, ''), url.origin, 'application_url has no path');
  assert.deepEqual(app.auth.redirect_urls, [`${url.origin}/auth/callback`]);
  assert.match(app.webhooks.api_version, /^\d{4}-(01|04|07|10)$/);
});

test('every subscription goes to /webhooks/shopify; compliance topics have a block of their own', () => {
  const subscriptions = app.webhooks.subscriptions;
  assert.ok(subscriptions.length >= 2);
  for (const s of subscriptions) {
    assert.equal(s.uri, WEBHOOK_PATH);
    const resolved = new URL(app.application_url.replace(/\/+$/, '') + s.uri);
    assert.equal(resolved.pathname, WEBHOOK_PATH);
    assert.ok(!(s.topics && s.compliance_topics), 'topics and compliance_topics in one block');
    assert.ok(s.topics || s.compliance_topics, 'a block without topics');
  }
  const compliance = subscriptions.flatMap((s) => s.compliance_topics || []).sort();
  assert.deepEqual(compliance, COMPLIANCE_TOPICS);
  const regular = subscriptions.flatMap((s) => s.topics || []);
  for (const topic of regular) assert.ok(!COMPLIANCE_TOPICS.includes(topic), `${topic} belongs in compliance_topics`);
});

test('the manifest subscribes to exactly the topics the server handles', () => {
  const subscribed = app.webhooks.subscriptions.flatMap((s) => [...(s.topics || []), ...(s.compliance_topics || [])]);
  assert.equal(new Set(subscribed).size, subscribed.length, 'a topic is subscribed twice');
  const handled = describe().webhook_topics;
  const missingHandler = subscribed.filter((t) => !handled.includes(t));
  const missingSubscription = handled.filter((t) => !subscribed.includes(t));
  assert.deepEqual(missingHandler, [], 'subscribed in shopify.app.toml but no handler in the server');
  assert.deepEqual(missingSubscription, [], 'handled by the server but not subscribed in shopify.app.toml');
});

test('the manifest asks for exactly kRequiredScopes', () => {
  const {scopes} = describe();
  assert.equal(app.access_scopes.scopes, scopes);
  const list = scopes.split(',');
  assert.equal(new Set(list).size, list.length, 'a scope is listed twice');
  for (const scope of list) assert.match(scope, /^(read|write)_[a-z_]+$/);
});

test('post-purchase extension TOML', () => {
  const dir = join(extensionsDir, 'post-purchase');
  const config = readToml(join(dir, 'shopify.extension.toml'));
  assert.match(config.api_version, /^\d{4}-(01|04|07|10)$/);
  assert.equal(config.extensions.length, 1);
  const [ext] = config.extensions;
  assert.equal(ext.type, 'checkout_post_purchase');
  assert.ok(ext.name);
  assert.match(ext.handle, /^[a-z0-9][a-z0-9-]*$/);
  assert.ok(existsSync(join(dir, 'src', 'index.js')), 'the CLI builds src/index.*');
});

test('thank-you extension TOML', () => {
  const dir = join(extensionsDir, 'thank-you');
  const config = readToml(join(dir, 'shopify.extension.toml'));
  // Since 2026-10-01 an app deploys only if every UI extension is on 2026-01 or later; the
  // @shopify/ui-extensions release line is the API version it types (2026.4.x <-> 2026-04).
  assert.ok(config.api_version >= '2026-01', `api_version ${config.api_version} is no longer deployable`);
  const pins = JSON.parse(readFileSync(join(manifestsDir, 'package.json'), 'utf8')).dependencies;
  const version = pins['@shopify/ui-extensions'];
  const [year, month] = version.split('.');
  assert.equal(config.api_version, `${year}-${month.padStart(2, '0')}`, '@shopify/ui-extensions matches api_version');
  assert.equal(config.extensions.length, 1);
  const [ext] = config.extensions;
  assert.equal(ext.type, 'ui_extension');
  assert.ok(ext.name);
  assert.match(ext.handle, /^[a-z0-9][a-z0-9-]*$/);
  assert.deepEqual(ext.targeting.map((t) => t.target), ['purchase.thank-you.block.render']);
  assert.ok(existsSync(join(dir, ext.targeting[0].module)), 'the target module exists');
  assert.equal(ext.capabilities.network_access, true, 'fetch() to the backend needs network_access');
});

test('extension handles are unique', () => {
  const handles = ['post-purchase', 'thank-you'].map(
    (name) => readToml(join(extensionsDir, name, 'shopify.extension.toml')).extensions[0].handle,
  );
  assert.equal(new Set([...handles, app.handle]).size, handles.length + 1);
});
