// A real SMTP server on loopback for the SMTP mailer's tests (email/smtp_mailer.h), built on the
// npm package smtp-server (pinned in package.json), plus a small HTTP control API.
//
//   node server.mjs --port 0 [--host 127.0.0.1] [--tls-key K --tls-cert C] [--implicit-tls]
//                   [--auth user:pass]
//
// Prints `listening <smtpPort> <controlPort>` on stdout once both listen, then nothing else on
// stdout (the harness closes the pipe); a line per event goes to stderr.
//
// SMTP: with --tls-key/--tls-cert the server offers STARTTLS (or, with --implicit-tls, speaks TLS
// from the first byte: smtps); without them it offers no STARTTLS at all. With --auth it requires
// AUTH PLAIN/LOGIN with exactly that user and password (the password is everything after the
// first ':'), and only after STARTTLS when TLS is configured; without --auth it offers no AUTH.
// Every accepted message is kept in memory: the raw source exactly as the client sent it (after
// dot-unstuffing, without the final "."), and the envelope.
//
// Control API on 127.0.0.1:<controlPort> (JSON):
//   GET    /_test/messages  [{id, session, user, from, to: [..], raw, raw_base64}], oldest first
//                           (raw: the source as UTF-8 text; raw_base64: the exact bytes)
//   DELETE /_test/messages  forget them
//   POST   /_test/faults    replaces the fault set with the body, any of:
//     {"greeting": 421}                         refuse new connections with this code
//     {"mail": {"code": 550}}                   answer MAIL FROM with it
//     {"rcpt": {"code": 451|550, "match": "tempfail@", "message": "..."}}
//                                               answer RCPT TO with it when the address contains
//                                               `match` (case-insensitive; no match: every RCPT)
//     {"data": {"code": 554, "message": "..."}} read the message, then reject it (not stored)
//     {"drop_at_mail": 1}                       destroy the connection at the next N MAIL FROM
//                                               commands without a reply (counts down)
//     {"drop_after_data": true}                 read and store the message, then destroy the
//                                               connection without a reply (the lost-250 case)
//     {"hang_after_data": true}                 read and store the message, never reply
//   DELETE /_test/faults    no faults
//   GET    /_test/faults    the current fault set
//   POST   /_test/disconnect  destroys every open SMTP connection without a word (a server
//                           that dropped idle clients)
// Faults stay until replaced or deleted.
import { SMTPServer } from 'smtp-server';
import fs from 'node:fs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

function parseArgs(argv) {
  const opts = { port: 0, host: '127.0.0.1', tlsKey: '', tlsCert: '', implicitTls: false, auth: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') opts.port = Number(next());
    else if (a === '--host') opts.host = next();
    else if (a === '--tls-key') opts.tlsKey = next();
    else if (a === '--tls-cert') opts.tlsCert = next();
    else if (a === '--implicit-tls') opts.implicitTls = true;
    else if (a === '--auth') opts.auth = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!!opts.tlsKey !== !!opts.tlsCert) throw new Error('--tls-key and --tls-cert go together');
  if (opts.implicitTls && !opts.tlsKey) throw new Error('--implicit-tls needs --tls-key/--tls-cert');
  if (opts.auth && !opts.auth.includes(':')) throw new Error('--auth takes user:pass');
  return opts;
}

function log(...parts) {
  process.stderr.write(`${new Date().toISOString()} ${parts.join(' ')}\n`);
}

function smtpError(code, message) {
  const err = new Error(message);
  err.responseCode = code;
  return err;
}

// The text a fault answers with when the test gives none: an enhanced status code (RFC 3463) the
// way real servers send them, so the client's parsing of "5.1.1" is exercised too.
function defaultText(stage, code) {
  if (stage === 'rcpt' && code >= 500) return '5.1.1 Recipient address rejected: user unknown';
  if (stage === 'rcpt') return '4.2.0 Recipient temporarily unavailable, try again later';
  if (stage === 'mail' && code >= 500) return '5.7.1 Sender address rejected';
  if (stage === 'mail') return '4.3.0 Sender temporarily rejected';
  if (stage === 'data' && code >= 500) return '5.7.1 Message rejected as spam';
  if (stage === 'data') return '4.3.0 Message temporarily rejected';
  return code >= 500 ? 'Service not available' : 'Service temporarily unavailable, closing';
}

export function validateFaults(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Error('faults must be a JSON object');
  }
  const known = ['greeting', 'mail', 'rcpt', 'data', 'drop_at_mail', 'drop_after_data', 'hang_after_data'];
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) throw new Error(`unknown fault ${key}`);
  }
  const isCode = (c) => Number.isInteger(c) && c >= 400 && c <= 599;
  if (body.greeting !== undefined && !isCode(body.greeting)) throw new Error('greeting must be a 4xx/5xx code');
  if (body.drop_at_mail !== undefined && !(Number.isInteger(body.drop_at_mail) && body.drop_at_mail >= 0)) {
    throw new Error('drop_at_mail must be a count');
  }
  for (const stage of ['mail', 'rcpt', 'data']) {
    const f = body[stage];
    if (f === undefined) continue;
    if (typeof f !== 'object' || f === null || !isCode(f.code)) {
      throw new Error(`${stage}.code must be a 4xx/5xx code`);
    }
    if (f.match !== undefined && typeof f.match !== 'string') throw new Error(`${stage}.match must be a string`);
    if (f.message !== undefined && typeof f.message !== 'string') throw new Error(`${stage}.message must be a string`);
  }
  return body;
}

export function startServer(opts) {
  const messages = [];
  let nextId = 1;
  let faults = {};
  // The topmost socket of each connection, by the client's port: the raw socket at first, the
  // TLS socket once onSecure reports it. drop_after_data destroys it (public API only; smtp-server
  // has no call to drop a session without replying).
  const sockets = new Map();
  const [authUser, ...rest] = opts.auth ? opts.auth.split(':') : [''];
  const authPass = rest.join(':');
  const tls = !!opts.tlsKey;

  const disabledCommands = [];
  if (!tls) disabledCommands.push('STARTTLS');
  if (!opts.auth) disabledCommands.push('AUTH');

  const smtp = new SMTPServer({
    secure: opts.implicitTls,
    key: tls ? fs.readFileSync(opts.tlsKey) : undefined,
    cert: tls ? fs.readFileSync(opts.tlsCert) : undefined,
    name: 'smtp.test.invalid',
    disabledCommands,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !opts.auth,
    // Over TLS, AUTH only after STARTTLS (as real submission servers do); a plaintext test
    // server with --auth lets it through so that the SMTP_TLS=none path can authenticate too.
    allowInsecureAuth: !tls,
    disableReverseLookup: true,
    size: 10 * 1024 * 1024,
    logger: false,
    socketTimeout: 60 * 1000,

    onConnect(session, cb) {
      log('connect', session.id, session.remotePort);
      if (faults.greeting) return cb(smtpError(faults.greeting, defaultText('greeting', faults.greeting)));
      cb();
    },
    onSecure(socket, session, cb) {
      sockets.set(session.remotePort, socket);
      log('secure', session.id);
      cb();
    },
    onAuth(auth, session, cb) {
      if (auth.username === authUser && auth.password === authPass) {
        log('auth ok', session.id, auth.method);
        return cb(null, { user: auth.username });
      }
      log('auth failed', session.id, auth.method);
      cb(smtpError(535, '5.7.8 Authentication credentials invalid'));
    },
    onMailFrom(address, session, cb) {
      if (faults.drop_at_mail > 0) {
        faults.drop_at_mail--;
        log('dropping the connection at MAIL FROM', session.id);
        const socket = sockets.get(session.remotePort);
        if (socket) socket.destroy();
        return;  // never answered
      }
      const f = faults.mail;
      if (f) return cb(smtpError(f.code, f.message || defaultText('mail', f.code)));
      cb();
    },
    onRcptTo(address, session, cb) {
      const f = faults.rcpt;
      if (f && (!f.match || address.address.toLowerCase().includes(f.match.toLowerCase()))) {
        log('rcpt fault', session.id, f.code);
        return cb(smtpError(f.code, f.message || defaultText('rcpt', f.code)));
      }
      cb();
    },
    onData(stream, session, cb) {
      const parts = [];
      stream.on('data', (chunk) => parts.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(parts);
        const f = faults;
        if (f.data) {
          log('data fault', session.id, f.data.code);
          return cb(smtpError(f.data.code, f.data.message || defaultText('data', f.data.code)));
        }
        const id = nextId++;
        messages.push({
          id,
          session: session.id,
          user: session.user || null,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        if (f.drop_after_data) {
          log('stored', id, 'then dropping the connection without a reply');
          const socket = sockets.get(session.remotePort);
          if (socket) socket.destroy();
          return;  // never answered
        }
        if (f.hang_after_data) {
          log('stored', id, 'never answering');
          return;
        }
        log('stored', id, 'from', session.id);
        cb(null, `2.0.0 OK queued as ${id}`);
      });
    },
    onClose(session) {
      sockets.delete(session.remotePort);
    },
  });
  smtp.server.on('connection', (socket) => {
    if (!sockets.has(socket.remotePort)) sockets.set(socket.remotePort, socket);
  });
  smtp.on('error', (err) => log('smtp error', err.code || '', err.message));

  const control = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const send = (status, value) => {
        const body = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const url = new URL(req.url, 'http://127.0.0.1');
      const key = `${req.method} ${url.pathname}`;
      try {
        if (key === 'GET /_test/messages') {
          return send(200, messages.map((m) => ({
            id: m.id, session: m.session, user: m.user, from: m.from, to: m.to,
            raw: m.raw.toString('utf8'), raw_base64: m.raw.toString('base64'),
          })));
        }
        if (key === 'DELETE /_test/messages') {
          messages.length = 0;
          return send(200, { ok: true });
        }
        if (key === 'GET /_test/faults') return send(200, faults);
        if (key === 'POST /_test/faults') {
          const text = Buffer.concat(chunks).toString('utf8');
          faults = validateFaults(text ? JSON.parse(text) : {});
          log('faults', JSON.stringify(faults));
          return send(200, faults);
        }
        if (key === 'POST /_test/disconnect') {
          const n = sockets.size;
          for (const s of sockets.values()) s.destroy();
          sockets.clear();
          log('disconnected', n);
          return send(200, {disconnected: n});
        }
        if (key === 'DELETE /_test/faults') {
          faults = {};
          return send(200, faults);
        }
        send(404, { error: `no route ${key}` });
      } catch (err) {
        send(400, { error: err.message });
      }
    });
  });

  const ready = Promise.all([
    new Promise((resolve, reject) => {
      smtp.server.once('error', reject);
      smtp.listen(opts.port, opts.host, () => resolve(smtp.server.address().port));
    }),
    new Promise((resolve, reject) => {
      control.once('error', reject);
      control.listen(0, '127.0.0.1', () => resolve(control.address().port));
    }),
  ]);
  const close = () => new Promise((resolve) => {
    control.close();
    control.closeAllConnections();
    for (const s of sockets.values()) s.destroy();
    smtp.close(resolve);
  });
  return { ready, close };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const server = startServer(opts);
  server.ready.then(([smtpPort, controlPort]) => {
    process.stdout.write(`listening ${smtpPort} ${controlPort}\n`);
    log('listening', smtpPort, controlPort, opts.implicitTls ? 'implicit-tls' : (opts.tlsKey ? 'starttls' : 'plain'),
      opts.auth ? 'auth' : 'no-auth');
  }, (err) => {
    process.stderr.write(`cannot listen: ${err.message}\n`);
    process.exit(1);
  });
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
