// Both extensions bundle against the real Shopify packages the way the Shopify CLI bundles them,
// and stay under Shopify's 64 KB (compressed) limit per extension, enforced at deploy.
import assert from 'node:assert/strict';
import {readdirSync} from 'node:fs';
import {join} from 'node:path';
import {test} from 'node:test';
import {gzipSync} from 'node:zlib';

import {bundleExtension, extensionsDir, readToml} from './support.mjs';

const LIMIT_BYTES = 64 * 1024;

const extensions = readdirSync(extensionsDir, {withFileTypes: true})
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

test('both extensions are there', () => {
  assert.deepEqual(extensions, ['post-purchase', 'thank-you']);
});

for (const name of extensions) {
  const dir = join(extensionsDir, name);

  test(`${name}: bundles minified and its gzip size is under 64 KB`, async () => {
    const code = await bundleExtension(dir);
    const raw = Buffer.byteLength(code);
    const gzip = gzipSync(code, {level: 9}).length;
    console.log(`${name}: ${raw} bytes raw, ${gzip} bytes gzip (limit ${LIMIT_BYTES})`);
    assert.ok(gzip < LIMIT_BYTES, `${name}: ${gzip} bytes gzip is over the limit`);
    assert.ok(raw > 1000, `${name}: a ${raw}-byte bundle cannot hold the Shopify runtime glue`);
    assert.ok(!/\bimport\s*[{("'*]|\bexport\s*[{*]/.test(code), `${name}: the bundle has ES module syntax left`);
  });

  test(`${name}: registers its targets with shopify.extend`, async () => {
    const code = await bundleExtension(dir);
    const config = readToml(join(dir, 'shopify.extension.toml'));
    const targets =
      config.extensions[0].type === 'checkout_post_purchase'
        ? ['Checkout::PostPurchase::ShouldRender', 'Checkout::PostPurchase::Render']
        : config.extensions[0].targeting.map((t) => t.target);
    for (const target of targets) assert.ok(code.includes(`"${target}"`) || code.includes(`'${target}'`), target);
  });

  test(`${name}: calls the backend at application_url unless AFTERGLOW_BACKEND_URL is set`, async () => {
    const app = readToml(join(extensionsDir, '..', 'shopify.app.toml'));
    const byDefault = await bundleExtension(dir);
    assert.ok(byDefault.includes(JSON.stringify(app.application_url)), 'default backend URL');
    const configured = await bundleExtension(dir, {env: {AFTERGLOW_BACKEND_URL: 'https://backend.test'}});
    assert.ok(configured.includes('"https://backend.test"'), 'AFTERGLOW_BACKEND_URL is baked in');
  });
}
