// The merchant page in headless Chromium against the real binary: sign in with the development
// login link, create an offer through the form, see it listed, reload and still see it; an invalid
// form shows the API's error next to the field; a dead server is reported, not swallowed.
//
// Run by ctest (tests/CMakeLists.txt) with AFTERGLOW_BINARY (the built binary) and
// AFTERGLOW_ARTIFACTS (where screenshots go). Needs `npm ci` in tests/browser (scripts/test.sh
// does it) and Debian's chromium (scripts/setup.sh installs it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const binary = process.env.AFTERGLOW_BINARY || join(repo, 'build', 'afterglow');
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

let dir;
let server;          // the `afterglow serve` child
let serverLog = '';  // its stdout and stderr
let baseUrl;
let browser;

function env() {
  return {
    PATH: process.env.PATH,
    HOST: '127.0.0.1',
    PORT: '0',
    TLS_CERT: join(dir, 'cert.pem'),
    TLS_KEY: join(dir, 'key.pem'),
    DATABASE_URL: 'sqlite:' + join(dir, 'afterglow.db'),
    APP_API_KEY: 'browser-test-key',
    APP_API_SECRET: 'shpss_' + randomBytes(16).toString('hex'),
    WORKERS: '0',
    LOG_LEVEL: 'info',
    DEV_MODE: '1',
  };
}

// Starts the server; resolves with its HTTPS port once it wrote "<https> <http>" to READY_FD.
function startServer(environment) {
  return new Promise((resolvePort, reject) => {
    const child = spawn(binary, ['serve'], {
      env: { ...environment, READY_FD: '3' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    server = child;
    child.stdout.on('data', (d) => { serverLog += d; });
    child.stderr.on('data', (d) => { serverLog += d; });
    let ready = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 20 s:\n' + serverLog)), 20000);
    child.stdio[3].on('data', (d) => {
      ready += d;
      if (ready.includes('\n')) {
        clearTimeout(timer);
        resolvePort(Number(ready.trim().split(' ')[0]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error('server exited with ' + code + ':\n' + serverLog));
    });
  });
}

function stopServer() {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    return exited;
  }
  return Promise.resolve();
}

function loginCode() {
  const codes = [...serverLog.matchAll(/\/admin\?login=([0-9a-f]+)/g)].map((m) => m[1]);
  assert.ok(codes.length > 0, 'the server printed no login link:\n' + serverLog);
  return codes[codes.length - 1];
}

before(async () => {
  assert.ok(existsSync(binary), 'no binary at ' + binary + ' (build the afterglow target)');
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'afterglow-browser-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const environment = env();
  execFileSync(binary, ['seed-demo'], { env: environment, stdio: 'ignore' });
  const port = await startServer(environment);
  baseUrl = `https://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  await stopServer();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('create an offer through the form, see it listed, reload, still there; errors show next to the field',
  { timeout: 120000 }, async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(e.message));

    // Sign in with the one-time link; the code leaves the address bar.
    await page.goto(`${baseUrl}/admin?login=${loginCode()}`);
    await page.waitForSelector('#who:has-text("afterglow-demo.myshopify.com")');
    assert.ok(!page.url().includes('login='), 'the login code stays out of the address bar');
    // seed-demo creates the demo shop's offers (plugin/app/demo_seed.h); count from there.
    await page.waitForSelector('#offers-table tbody tr');
    const seeded = await page.locator('#offers-table tbody tr').count();

    // Create an offer through the form.
    await page.click('#offer-new');
    const form = page.locator('#offer-form');
    await form.locator('[name=title]').fill('Matching socks');
    await form.locator('[name=headline]').fill('Add a pair for 20% off');
    await form.locator('[name=product_id]').fill('632910392');
    await form.locator('[name=discount_type]').selectOption('percent');
    await form.locator('[name=discount_percent]').fill('20');
    await form.locator('[name=free_shipping]').check();
    await form.locator('[name=t_product_ids]').fill('111, 222');
    await form.locator('[name=t_countries]').fill('US, CA');
    await form.locator('button[type=submit]').click();
    const row = page.locator('#offers-table tbody tr', { hasText: 'Matching socks' });
    await row.waitFor();
    assert.equal(await form.isHidden(), true, 'the form closes after a save');
    assert.match(await row.innerText(), /20% \+ free shipping/);

    // Reload: the offer is still there (and so is the session).
    await page.reload();
    await page.locator('#offers-table tbody tr', { hasText: 'Matching socks' }).waitFor();
    assert.equal(await page.locator('#offers-table tbody tr').count(), seeded + 1);
    await page.screenshot({ path: join(artifacts, 'admin.png'), fullPage: true });

    // An invalid form: the API's message appears next to the field it names.
    await page.click('#offer-new');
    await form.locator('[name=title]').fill('Too generous');
    await form.locator('[name=product_id]').fill('632910392');
    await form.locator('[name=discount_type]').selectOption('percent');
    await form.locator('[name=discount_percent]').fill('150');
    await form.locator('[name=t_countries]').fill('USA');
    await form.locator('button[type=submit]').click();
    const percentError = form.locator('[data-error-for="offers.discount.percent"]');
    await percentError.waitFor();
    assert.equal(await percentError.innerText(), 'Must be between 0 and 100');
    assert.equal(await percentError.getAttribute('title'), 'offers.discount.percent must be between 0 and 100');
    const percentLabel = form.locator('label', { has: page.locator('[name=discount_percent]') });
    assert.equal(await percentLabel.locator('.field-error').count(), 1, 'the error sits in the field\'s label');
    assert.match(await form.locator('[name=discount_percent]').getAttribute('class'), /invalid/);
    const countryError = form.locator('[data-error-for="offers.triggers.countries"]');
    assert.equal(await countryError.innerText(), '#1: must be a two-letter country code such as US');
    assert.equal(await page.locator('#offers-table tbody tr').count(), seeded + 1, 'nothing was saved');
    await form.locator('[name=discount_percent]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, 'admin-error.png'), fullPage: true });

    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

// Signs a fresh page in with the newest one-time link (the last test used the previous one).
async function signedInPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/admin?login=${loginCode()}`);
  await page.waitForSelector('#who:has-text("afterglow-demo.myshopify.com")');
  return { context, page };
}

test('settings and flows are edited through their forms', { timeout: 120000 }, async () => {
  const { context, page } = await signedInPage();
  await page.click('button[data-tab=settings]');
  const settings = page.locator('#settings-form');
  await settings.locator('[name=sender_name]').fill('Glow Goods');
  await settings.locator('[name=sender_email]').fill('hello@glow.example');
  await settings.locator('[name=postal_address]').fill('1 Main St, Springfield');
  await settings.locator('[name=qh_start]').fill('25');
  await settings.locator('button[type=submit]').click();
  const startError = settings.locator('[data-error-for="settings.quiet_hours.start_hour"]');
  await startError.waitFor();
  assert.equal(await startError.innerText(), 'Must be an integer between 0 and 23');
  await settings.locator('[name=qh_start]').fill('20');
  await settings.locator('button[type=submit]').click();
  await page.locator('#settings-saved:not([hidden])').waitFor();
  assert.equal(await settings.locator('.field-error').count(), 0, 'errors clear after a good save');
  await page.reload();
  await page.waitForSelector('#who:has-text("afterglow-demo.myshopify.com")');
  // The settings arrive by their own request after the page is up: wait until the form is
  // filled (or the wait times out and the assertion below says what was there).
  await page
    .waitForFunction(() => document.querySelector('#settings-form [name=sender_name]')?.value !== '',
      null, { timeout: 10000 })
    .catch(() => {});
  assert.equal(await settings.locator('[name=sender_name]').inputValue(), 'Glow Goods');
  assert.equal(await settings.locator('[name=qh_start]').inputValue(), '20');
  await page.screenshot({ path: join(artifacts, 'admin-settings.png'), fullPage: true });

  await page.click('button[data-tab=flows]');
  await page.click('#flow-new');
  const flow = page.locator('#flow-form');
  await flow.locator('[name=name]').fill('Thank-you cross-sell');
  await flow.locator('[name=status]').selectOption('live');
  await flow.locator('[data-add-step=send_sms]').click();
  await flow.locator('button[type=submit]').click();
  await page.locator('#flows-table tbody tr', { hasText: 'Thank-you cross-sell' }).waitFor();

  await page.click('#flow-new');
  await flow.locator('[name=name]').fill('Broken');
  await flow.locator('[name=steps]').fill('[{"type": "send_email", "subject": ""}]');
  await flow.locator('button[type=submit]').click();
  const stepsError = flow.locator('[data-error-for="flows.steps"]').first();
  await stepsError.waitFor();
  assert.match(await stepsError.innerText(), /#1 subject: must not be empty/);
  await page.screenshot({ path: join(artifacts, 'admin-flows.png'), fullPage: true });
  await context.close();
});

test('a server that cannot be reached is reported, not swallowed', { timeout: 60000 }, async () => {
  const { context, page } = await signedInPage();
  await page.waitForSelector('#offers-table tbody tr');
  await stopServer();
  await page.click('#offer-new');
  const form = page.locator('#offer-form');
  await form.locator('[name=title]').fill('Offline');
  await form.locator('[name=product_id]').fill('1');
  await form.locator('[name=catch_all]').check();
  await form.locator('button[type=submit]').click();
  await page.locator('#banner:not([hidden])', { hasText: 'Could not reach the server' }).waitFor();
  assert.match(await form.locator('[data-form-error]').innerText(), /Could not reach the server/);
  await context.close();
});
