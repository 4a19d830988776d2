// The SMTP test server speaks SMTP (RFC 5321) the way the mailer's tests rely on: EHLO
// extensions per mode, STARTTLS and implicit TLS with the given certificate, AUTH only after
// STARTTLS, messages stored byte for byte (dot-unstuffed), and every injected fault.
// A hand-written client talks to it over raw sockets, so what is tested is the wire, not a library.
// Run: node --test tests/smtp_server/   (after `npm ci` in that directory)
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {after, before, describe, test} from 'node:test';
import tls from 'node:tls';
import {fileURLToPath} from 'node:url';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'server.mjs');
const children = [];
let stderr = '';

function startServer(args = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], {stdio: ['ignore', 'pipe', 'pipe']});
    children.push(proc);
    let out = '';
    proc.stderr.on('data', (d) => {
      stderr += d;
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (\d+) (\d+)\n/.exec(out);
      if (m) resolve({proc, smtpPort: Number(m[1]), controlPort: Number(m[2])});
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

after(() => {
  for (const c of children) c.kill('SIGTERM');
});

function control(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({host: '127.0.0.1', port, method, path, headers: {'content-type': 'application/json'}}, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({status: res.statusCode, json: JSON.parse(text)}));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

// A minimal SMTP client: replies are {code, lines}; `closed` resolves when the server hangs up.
class Client {
  constructor(socket) {
    this.buffer = '';
    this.waiters = [];
    this.replies = [];
    this.closed = new Promise((resolve) => {
      this.onClose = resolve;
    });
    this.attach(socket);
  }

  static connect(port, {implicitTls = false, ca} = {}) {
    const socket = implicitTls
      ? tls.connect({host: '127.0.0.1', port, ca, servername: 'localhost'})
      : net.connect({host: '127.0.0.1', port});
    return new Client(socket);
  }

  attach(socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d) => this.feed(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) {
        this.onClose();
        for (const w of this.waiters.splice(0)) w(null);
      }
    });
  }

  feed(data) {
    this.buffer += data;
    let nl;
    while ((nl = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 2);
      (this.pending ||= []).push(line.slice(4));
      if (line[3] !== '-') {
        const reply = {code: Number(line.slice(0, 3)), lines: this.pending};
        this.pending = null;
        const w = this.waiters.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    }
  }

  // The next reply, or null when the connection closed first.
  reply() {
    if (this.replies.length) return Promise.resolve(this.replies.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async cmd(line) {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  async starttls(ca) {
    const r = await this.cmd('STARTTLS');
    assert.equal(r.code, 220);
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({socket: plain, ca, servername: 'localhost'});
    await new Promise((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.attach(secure);
  }

  async send(from, to, raw) {
    assert.equal((await this.cmd(`MAIL FROM:<${from}>`)).code, 250);
    const rcpt = await this.cmd(`RCPT TO:<${to}>`);
    if (rcpt.code !== 250) return rcpt;
    assert.equal((await this.cmd('DATA')).code, 354);
    const stuffed = raw.replace(/(^|\r\n)\./g, '$1..');
    this.socket.write(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return this.reply();
  }
}

async function greet(client) {
  assert.equal((await client.reply()).code, 220);
  return client.cmd('EHLO client.test');
}

const MESSAGE = [
  'From: Shop <shop@example.com>',
  'To: ann@example.com',
  'Subject: Your basket',
  'Message-ID: <job-1@example.com>',
  '',
  'Hello Ann,',
  '.a line that starts with a dot',
  '..and one with two',
  '',
].join('\r\n');

describe('plain server without AUTH', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });

  test('offers neither STARTTLS nor AUTH and stores a message byte for byte', async () => {
    await control(srv.controlPort, 'DELETE', '/_test/messages');
    const c = Client.connect(srv.smtpPort);
    const ehlo = await greet(c);
    assert.equal(ehlo.code, 250);
    assert.ok(!ehlo.lines.some((l) => /^STARTTLS/i.test(l)), ehlo.lines.join('|'));
    assert.ok(!ehlo.lines.some((l) => /^AUTH/i.test(l)), ehlo.lines.join('|'));
    const r = await c.send('bounce@example.com', 'ann@example.com', MESSAGE);
    assert.equal(r.code, 250);
    assert.match(r.lines[0], /queued as \d+/);
    const {json} = await control(srv.controlPort, 'GET', '/_test/messages');
    assert.equal(json.length, 1);
    assert.equal(json[0].from, 'bounce@example.com');
    assert.deepEqual(json[0].to, ['ann@example.com']);
    assert.equal(json[0].raw, MESSAGE);
    assert.equal(Buffer.from(json[0].raw_base64, 'base64').toString('utf8'), MESSAGE);
    assert.equal(json[0].user, null);
    // A second transaction on the same session is recorded with the same session id.
    assert.equal((await c.send('bounce@example.com', 'bob@example.com', MESSAGE)).code, 250);
    const two = (await control(srv.controlPort, 'GET', '/_test/messages')).json;
    assert.equal(two.length, 2);
    assert.equal(two[1].session, two[0].session);
    assert.equal((await c.cmd('QUIT')).code, 221);

    assert.equal((await control(srv.controlPort, 'DELETE', '/_test/messages')).status, 200);
    assert.deepEqual((await control(srv.controlPort, 'GET', '/_test/messages')).json, []);
  });

  test('RCPT faults answer only matching recipients', async () => {
    await control(srv.controlPort, 'POST', '/_test/faults', {rcpt: {code: 451, match: 'TEMPFAIL@'}});
    const c = Client.connect(srv.smtpPort);
    await greet(c);
    const r = await c.send('bounce@example.com', 'tempfail@example.com', MESSAGE);
    assert.equal(r.code, 451);
    assert.match(r.lines[0], /^4\.\d\.\d /);
    assert.equal((await c.cmd('RSET')).code, 250);
    assert.equal((await c.send('bounce@example.com', 'ann@example.com', MESSAGE)).code, 250);

    await control(srv.controlPort, 'POST', '/_test/faults', {rcpt: {code: 550}});
    assert.equal((await c.cmd('RSET')).code, 250);
    const rejected = await c.send('bounce@example.com', 'anyone@example.com', MESSAGE);
    assert.equal(rejected.code, 550);
    assert.match(rejected.lines[0], /^5\.1\.1 /);
    await control(srv.controlPort, 'DELETE', '/_test/faults');
    assert.deepEqual((await control(srv.controlPort, 'GET', '/_test/faults')).json, {});
  });

  test('a DATA fault rejects after the final dot and stores nothing', async () => {
    await control(srv.controlPort, 'DELETE', '/_test/messages');
    await control(srv.controlPort, 'POST', '/_test/faults', {data: {code: 554}});
    const c = Client.connect(srv.smtpPort);
    await greet(c);
    const r = await c.send('bounce@example.com', 'ann@example.com', MESSAGE);
    assert.equal(r.code, 554);
    assert.deepEqual((await control(srv.controlPort, 'GET', '/_test/messages')).json, []);
    await control(srv.controlPort, 'DELETE', '/_test/faults');
  });

  test('drop_after_data stores the message and closes without a reply', async () => {
    await control(srv.controlPort, 'DELETE', '/_test/messages');
    await control(srv.controlPort, 'POST', '/_test/faults', {drop_after_data: true});
    const c = Client.connect(srv.smtpPort);
    await greet(c);
    const r = await c.send('bounce@example.com', 'ann@example.com', MESSAGE);
    assert.equal(r, null);
    await c.closed;
    const {json} = await control(srv.controlPort, 'GET', '/_test/messages');
    assert.equal(json.length, 1);
    assert.equal(json[0].raw, MESSAGE);
    await control(srv.controlPort, 'DELETE', '/_test/faults');
  });

  test('hang_after_data stores the message and leaves the client waiting', async () => {
    await control(srv.controlPort, 'DELETE', '/_test/messages');
    await control(srv.controlPort, 'POST', '/_test/faults', {hang_after_data: true});
    const c = Client.connect(srv.smtpPort);
    await greet(c);
    let answered = false;
    c.send('bounce@example.com', 'ann@example.com', MESSAGE).then(() => {
      answered = true;
    });
    let stored = [];
    for (let i = 0; i < 500 && stored.length === 0; i++) {
      stored = (await control(srv.controlPort, 'GET', '/_test/messages')).json;
    }
    assert.equal(stored.length, 1);
    // A normal reply is written in the same tick as the message is stored; one more control
    // round trip gives it every chance to have arrived.
    await control(srv.controlPort, 'GET', '/_test/faults');
    assert.equal(answered, false);
    c.socket.destroy();
    await control(srv.controlPort, 'DELETE', '/_test/faults');
  });

  test('drop_at_mail drops the connection at MAIL FROM the given number of times', async () => {
    await control(srv.controlPort, 'POST', '/_test/faults', {drop_at_mail: 1});
    const c = Client.connect(srv.smtpPort);
    await greet(c);
    assert.equal(await c.cmd('MAIL FROM:<bounce@example.com>'), null);
    await c.closed;
    assert.equal((await control(srv.controlPort, 'GET', '/_test/faults')).json.drop_at_mail, 0);
    const next = Client.connect(srv.smtpPort);
    await greet(next);
    assert.equal((await next.cmd('MAIL FROM:<bounce@example.com>')).code, 250);
    await control(srv.controlPort, 'DELETE', '/_test/faults');
  });

  test('a greeting fault refuses the connection and a MAIL fault refuses the sender', async () => {
    await control(srv.controlPort, 'POST', '/_test/faults', {greeting: 421});
    const refused = Client.connect(srv.smtpPort);
    assert.equal((await refused.reply()).code, 421);
    await refused.closed;

    await control(srv.controlPort, 'POST', '/_test/faults', {mail: {code: 553}});
    const c = Client.connect(srv.smtpPort);
    await greet(c);
    assert.equal((await c.cmd('MAIL FROM:<bounce@example.com>')).code, 553);
    await control(srv.controlPort, 'DELETE', '/_test/faults');
  });

  test('disconnect drops every open session without a reply', async () => {
    const c = Client.connect(srv.smtpPort);
    await greet(c);
    const {json} = await control(srv.controlPort, 'POST', '/_test/disconnect');
    assert.ok(json.disconnected >= 1);
    await c.closed;
    assert.equal(c.replies.length, 0);
  });

  test('malformed faults are refused with 400', async () => {
    assert.equal((await control(srv.controlPort, 'POST', '/_test/faults', {rcpt: {code: 250}})).status, 400);
    assert.equal((await control(srv.controlPort, 'POST', '/_test/faults', {bogus: true})).status, 400);
    assert.equal((await control(srv.controlPort, 'POST', '/_test/faults', [1])).status, 400);
    assert.deepEqual((await control(srv.controlPort, 'GET', '/_test/faults')).json, {});
  });
});

// A throw-away certificate for localhost / 127.0.0.1 from the openssl command line tool (the C++
// tests use tests/support/dev_cert.h instead).
function makeCert() {
  const dir = mkdtempSync(join(tmpdir(), 'smtp-server-test-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], {stdio: 'ignore'});
  if (r.status !== 0) return null;
  return {dir, key, cert};
}

const cert = makeCert();
after(() => cert && rmSync(cert.dir, {recursive: true, force: true}));

describe('TLS server with AUTH', {skip: cert ? false : 'openssl not available'}, () => {
  let srv;
  let ca;
  before(async () => {
    srv = await startServer(['--tls-key', cert.key, '--tls-cert', cert.cert, '--auth', 'mailer:p@ss:w rd']);
    ca = (await import('node:fs')).readFileSync(cert.cert);
  });

  test('STARTTLS with the given certificate, then AUTH checks the password', async () => {
    await control(srv.controlPort, 'DELETE', '/_test/messages');
    const c = Client.connect(srv.smtpPort);
    const ehlo = await greet(c);
    assert.ok(ehlo.lines.includes('STARTTLS'), ehlo.lines.join('|'));
    // Before TLS, AUTH is refused (no credentials over plaintext) and so is mail.
    const early = await c.cmd(`AUTH PLAIN ${Buffer.from('\0mailer\0p@ss:w rd').toString('base64')}`);
    assert.equal(early.code, 538);
    assert.equal((await c.cmd('MAIL FROM:<bounce@example.com>')).code, 530);

    await c.starttls(ca);  // verifies the certificate against `ca` for "localhost"
    const secureEhlo = await c.cmd('EHLO client.test');
    assert.ok(secureEhlo.lines.some((l) => /^AUTH .*PLAIN/.test(l)), secureEhlo.lines.join('|'));
    const wrong = await c.cmd(`AUTH PLAIN ${Buffer.from('\0mailer\0wrong').toString('base64')}`);
    assert.equal(wrong.code, 535);
    const right = await c.cmd(`AUTH PLAIN ${Buffer.from('\0mailer\0p@ss:w rd').toString('base64')}`);
    assert.equal(right.code, 235);
    assert.equal((await c.send('bounce@example.com', 'ann@example.com', MESSAGE)).code, 250);
    const {json} = await control(srv.controlPort, 'GET', '/_test/messages');
    assert.equal(json.length, 1);
    assert.equal(json[0].user, 'mailer');
    assert.equal(json[0].raw, MESSAGE);
  });

  test('implicit TLS (smtps) speaks TLS from the first byte', async () => {
    const tlsSrv = await startServer(['--tls-key', cert.key, '--tls-cert', cert.cert, '--implicit-tls']);
    const c = Client.connect(tlsSrv.smtpPort, {implicitTls: true, ca});
    const ehlo = await greet(c);
    assert.equal(ehlo.code, 250);
    assert.ok(!ehlo.lines.includes('STARTTLS'));
    assert.equal((await c.send('bounce@example.com', 'ann@example.com', MESSAGE)).code, 250);
    assert.equal((await control(tlsSrv.controlPort, 'GET', '/_test/messages')).json.length, 1);
    tlsSrv.proc.kill('SIGTERM');
  });
});

test('bad arguments exit with status 2', () => {
  const r = spawnSync(process.execPath, [SERVER, '--tls-key', 'only-a-key.pem'], {encoding: 'utf8'});
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--tls-key and --tls-cert go together/);
});
