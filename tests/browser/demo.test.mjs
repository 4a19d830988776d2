// The thank-you widget end to end, in headless Chromium: the real binary in DEV_MODE with the
// Stripe-compatible test server (tests/stripe_server) and the development platform
// (afterglow-dev-platform) on loopback, as scripts/run.sh runs them. Open /demo/thank-you, click
// "Add to my order", see "Added to your order" with the next offer in its place, and the charge
// ledger showing the charge go through to `appended` (charged in the demo shop's Stripe account,
// then appended to the order on the platform by a worker); then a card that wants 3-D Secure:
// the bank's confirmation arrives by webhook and "Check again" shows it. Without DEV_MODE the
// demo paths are 404; /checkout/widget.js is public and cacheable either way.
//
// Run by ctest (tests/CMakeLists.txt) with AFTERGLOW_BINARY, AFTERGLOW_DEV_PLATFORM and
// AFTERGLOW_ARTIFACTS (screenshot: demo-thank-you.png). Needs `npm ci` in tests/browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import http from 'node:http';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const binary = process.env.AFTERGLOW_BINARY || join(repo, 'build', 'afterglow');
const devPlatform = process.env.AFTERGLOW_DEV_PLATFORM || join(repo, 'build', 'tests', 'afterglow-dev-platform');
const artifacts = process.env.AFTERGLOW_ARTIFACTS || join(repo, 'build', 'test-artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  throw new Error('playwright-core is not installed: run `npm ci` in tests/browser (scripts/test.sh does)');
}

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const DEMO_ACCOUNT = 'acct_1AfterglowDemo';  // plugin/app/demo_catalog.h

let dir;
let browser;
const children = [];  // {name, child, log}
let baseUrl;
let stripeBase;
let environment;

// Starts a helper and resolves with the words of its first stdout line ("listening <port> …").
function startHelper(name, command, args, env) {
  return new Promise((resolveLine, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = { name, child, log: '' };
    children.push(entry);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s:\n${entry.log}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      entry.log += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        const words = out.split('\n')[0].trim().split(' ');
        if (words[0] !== 'listening') reject(new Error(`${name}: unexpected first line ${out}`));
        resolveLine(words.slice(1));
      }
    });
    child.stderr.on('data', (d) => { entry.log += d; });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${entry.log}`));
    });
  });
}

// Starts `afterglow serve`; resolves with its HTTPS port (READY_FD).
function startServer(name, env) {
  return new Promise((resolvePort, reject) => {
    const child = spawn(binary, ['serve'], { env: { ...env, READY_FD: '3' }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const entry = { name, child, log: '' };
    children.push(entry);
    child.stdout.on('data', (d) => { entry.log += d; });
    child.stderr.on('data', (d) => { entry.log += d; });
    let ready = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s:\n${entry.log}`)), 20000);
    child.stdio[3].on('data', (d) => {
      ready += d;
      if (ready.includes('\n')) {
        clearTimeout(timer);
        resolvePort(Number(ready.trim().split(' ')[0]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${entry.log}`));
    });
  });
}

function stop(entry) {
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((r) => entry.child.once('exit', r));
  entry.child.kill('SIGTERM');
  return exited;
}

// GET or POST over HTTP(S) with the test CA; resolves {status, headers, body}.
function request(url, { method = 'GET', body, ca } = {}) {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolveResponse, reject) => {
    const req = lib.request(url, { method, ca, headers: body ? { 'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolveResponse({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function logs() {
  return children.map((c) => `--- ${c.name} ---\n${c.log.split('\n').slice(-40).join('\n')}`).join('\n');
}

before(async () => {
  for (const [what, path] of [['binary', binary], ['dev platform', devPlatform]]) {
    assert.ok(existsSync(path), `no ${what} at ${path} (build afterglow and afterglow-dev-platform)`);
  }
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'afterglow-demo-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const tokenFile = join(dir, 'platform-token');
  writeFileSync(tokenFile, 'shpat_demo_' + randomBytes(16).toString('hex') + '\n', { mode: 0o600 });
  const webhookSecret = 'whsec_' + randomBytes(16).toString('hex');
  environment = {
    PATH: process.env.PATH,
    HOST: '127.0.0.1',
    PORT: '0',
    TLS_CERT: join(dir, 'cert.pem'),
    TLS_KEY: join(dir, 'key.pem'),
    DATABASE_URL: 'sqlite:' + join(dir, 'afterglow.db'),
    APP_API_KEY: 'demo-test-key',
    APP_API_SECRET: 'shpss_' + randomBytes(16).toString('hex'),
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    WORKERS: '2',
    LOG_LEVEL: 'info',
    DEV_MODE: '1',
  };
  execFileSync(binary, ['seed-demo', '--platform-token-file', tokenFile], { env: environment, stdio: 'pipe' });

  const [platformPort, platformCa] = await startHelper('dev platform', devPlatform,
    ['--access-token-file', tokenFile, '--client-id', environment.APP_API_KEY], { PATH: process.env.PATH });
  const [stripePort] = await startHelper('stripe server', process.execPath,
    [join(repo, 'tests', 'stripe_server', 'server.mjs'), '--port', '0', '--seed-customer', 'cus_demo:pm_card_visa',
     '--seed-account', DEMO_ACCOUNT], { PATH: process.env.PATH });
  stripeBase = `http://127.0.0.1:${stripePort}`;
  Object.assign(environment, {
    PLATFORM_API_BASE: `https://127.0.0.1:${platformPort}`,
    PLATFORM_CA_FILE: platformCa,
    STRIPE_API_BASE: stripeBase,
    STRIPE_SECRET_KEY: 'sk_test_demo',
  });
  const port = await startServer('afterglow', environment);
  baseUrl = `https://127.0.0.1:${port}`;
  // The server's port is known only now: point the Stripe server's webhooks at it.
  const hook = await request(`${stripeBase}/_test/webhook`, { method: 'POST', body: JSON.stringify({
    url: `${baseUrl}/webhooks/stripe`, secret: webhookSecret, ca_file: join(dir, 'cert.pem') }) });
  assert.equal(hook.status, 200, hook.body);
  browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all(children.map(stop));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('GET /checkout/widget.js is the embedded widget, public and cacheable', async () => {
  const ca = readFileSync(join(dir, 'cert.pem'));
  const res = await request(`${baseUrl}/checkout/widget.js`, { ca });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'public, max-age=300');
  assert.equal(res.headers['access-control-allow-origin'], '*');
  assert.equal(res.body, readFileSync(join(repo, 'checkout', 'widget', 'widget.js'), 'utf8'));
});

test('on the demo thank-you page, Add to my order charges the saved card and appends the item',
  { timeout: 120000 }, async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 1400 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await page.goto(`${baseUrl}/demo/thank-you`);
      const widget = page.locator('.ag-widget');
      // The upsell: socks at 15% off (24.00 → 20.40), the compare-at price struck through.
      await widget.locator('h2', { hasText: 'merino socks for 15% off' }).waitFor();
      assert.match(await widget.innerText(), /Merino Socks\s+M/);  // the offer's title, the variant
      assert.match(await widget.innerText(), /\$20\.40/);
      assert.equal(await widget.locator('s').innerText(), '$30.00');
      assert.match(await widget.locator('.ag-timer').innerText(), /^Offer ends in \d+:\d\d$/);
      await page.locator('#ledger-empty:not([hidden])').waitFor();

      await widget.getByRole('button', { name: 'Add to my order' }).click();
      const status = widget.getByRole('status');
      await status.filter({ hasText: 'Added to your order' }).waitFor({ timeout: 30000 });
      // The funnel's next offer (the cross-sell after an accept) takes the upsell's place.
      await widget.locator('h2', { hasText: 'Keep your tote like new' }).waitFor();
      assert.equal(await widget.getByRole('button', { name: 'Add to my order' }).isEnabled(), true);

      // The ledger: one charge, through Stripe and onto the order.
      const appended = page.locator('#ledger tbody tr[data-state="appended"]');
      await appended.waitFor({ timeout: 60000 });
      const row = await appended.innerText();
      assert.match(row, /Merino Socks \(3 pairs\) · M/);
      assert.match(row, /pi_\w+/);
      assert.match(row, /\$20\.40/);
      assert.match(row, /pending → .*succeeded → .*appended/);
      assert.equal(await page.locator('#ledger tbody tr').count(), 1);
      const added = page.locator('#order-lines tbody tr.added');
      await added.waitFor();
      assert.match(await added.innerText(), /Merino Socks \(3 pairs\) · M/);
      await page.screenshot({ path: join(artifacts, 'demo-thank-you.png'), fullPage: true });

      // Stripe saw exactly one PaymentIntent, in the demo shop's account, for the offer's price.
      const pis = JSON.parse((await request(`${stripeBase}/_test/payment_intents`)).body).data;
      assert.equal(pis.length, 1, JSON.stringify(pis));
      assert.equal(pis[0].account, DEMO_ACCOUNT);
      assert.equal(pis[0].amount, 2040);
      assert.equal(pis[0].status, 'succeeded');
      assert.equal(pis[0].customer, 'cus_demo');
      assert.deepEqual(pageErrors, []);
    } catch (e) {
      await page.screenshot({ path: join(artifacts, 'demo-thank-you-failure.png'), fullPage: true }).catch(() => {});
      e.message += '\n' + logs();
      throw e;
    } finally {
      await context.close();
    }
  });

test('a payment the bank wants confirmed says so; Check again reads the outcome the webhook brought',
  { timeout: 120000 }, async () => {
    // The next offer (the cross-sell) is charged to a card that always asks for 3-D Secure.
    execFileSync('sqlite3', [join(dir, 'afterglow.db'),
      "UPDATE order_payments SET payment_method = 'pm_card_threeDSecure2Required'"]);
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 1400 } });
    const page = await context.newPage();
    try {
      await page.goto(`${baseUrl}/demo/thank-you`);
      const widget = page.locator('.ag-widget');
      await widget.locator('h2', { hasText: 'Keep your tote like new' }).waitFor();
      await widget.getByRole('button', { name: 'Add to my order' }).click();
      await widget.getByRole('status').filter({ hasText: 'Your bank needs you to confirm this payment' }).waitFor();
      const again = widget.getByRole('button', { name: 'Check again' });
      assert.equal(await again.isEnabled(), true);
      await page.locator('#ledger tbody tr[data-state="requires_action"]').waitFor();

      // The shopper confirms with the bank; Stripe tells the server by webhook.
      const pis = JSON.parse((await request(`${stripeBase}/_test/payment_intents`)).body).data;
      const pending = pis.filter((pi) => pi.status === 'requires_action');
      assert.equal(pending.length, 1, JSON.stringify(pis));
      const done = await request(`${stripeBase}/_test/payment_intents/${pending[0].id}/authenticate`,
        { method: 'POST', body: JSON.stringify({ result: 'succeed' }) });
      assert.equal(done.status, 200, done.body);
      await page.locator('#ledger tbody tr[data-state="appended"]', { hasText: 'Leather Care Kit' })
        .waitFor({ timeout: 60000 });

      await again.click();
      await widget.getByRole('status').filter({ hasText: 'Added to your order: Leather Care Kit' }).waitFor();
      assert.equal(await page.locator('#ledger tbody tr').count(), 2, 'the same charge, not a second one');
      await page.screenshot({ path: join(artifacts, 'demo-thank-you-3ds.png'), fullPage: true });
    } catch (e) {
      await page.screenshot({ path: join(artifacts, 'demo-thank-you-3ds-failure.png'), fullPage: true }).catch(() => {});
      e.message += '\n' + logs();
      throw e;
    } finally {
      await context.close();
    }
  });

test('seed-demo run again changes nothing it already made', () => {
  const count = (sql) => Number(execFileSync('sqlite3', [join(dir, 'afterglow.db'), sql]).toString().trim());
  const before = ['offers', 'catalog_products', 'order_payments', 'orders', 'charges']
    .map((t) => count(`SELECT COUNT(*) FROM ${t}`));
  const out = execFileSync(binary, ['seed-demo', '--platform-token-file', join(dir, 'platform-token')],
    { env: environment }).toString();
  assert.match(out, /its offers kept/);
  const after = ['offers', 'catalog_products', 'order_payments', 'orders', 'charges']
    .map((t) => count(`SELECT COUNT(*) FROM ${t}`));
  assert.deepEqual(after, before);
  assert.deepEqual(before.slice(0, 4), [3, 4, 1, 1]);
});

test('without DEV_MODE the demo paths do not exist', { timeout: 60000 }, async () => {
  const { DEV_MODE, ...production } = environment;
  const port = await startServer('afterglow (no DEV_MODE)', production);
  const ca = readFileSync(join(dir, 'cert.pem'));
  for (const path of ['/demo/thank-you', '/demo/state', '/demo/demo.js']) {
    const res = await request(`https://127.0.0.1:${port}${path}`, { ca });
    assert.equal(res.status, 404, path);
  }
  assert.equal((await request(`https://127.0.0.1:${port}/checkout/widget.js`, { ca })).status, 200);
  await stop(children[children.length - 1]);
});
