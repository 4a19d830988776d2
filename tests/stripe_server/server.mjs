#!/usr/bin/env node
// A Stripe-compatible API server for tests (API v1 wire format, in memory, loopback only).
// See README.md in this directory for what it implements.
//
//   node server.mjs [--port 0] [--host 127.0.0.1] [--webhook-url URL] [--webhook-secret whsec_…]
//                   [--webhook-ca FILE] [--seed-customer cus_demo:pm_card_visa]...
//                   [--seed-account acct_…]...
//
// Prints exactly one line, `listening <port>`, to stdout once it accepts connections; logs one
// line per request to stderr; exits on SIGTERM / SIGINT.
import http from 'node:http';

import {App} from './app.mjs';

function usage(message) {
  process.stderr.write(`${message}\nusage: node server.mjs [--port N] [--host 127.0.0.1] [--webhook-url URL] [--webhook-secret S | --webhook-secret-env NAME] [--webhook-ca FILE] [--seed-customer cus_x[:pm_card_visa]]... [--seed-account acct_x]...\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {port: 0, host: '127.0.0.1', webhook: null, seedCustomers: [], seedAccounts: []};
  const webhook = {};
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) usage(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case '--port': opts.port = Number(value()); break;
      case '--host': opts.host = value(); break;
      case '--webhook-url': webhook.url = value(); break;
      case '--webhook-secret': webhook.secret = value(); break;
      case '--webhook-ca': webhook.ca_file = value(); break;
      case '--seed-customer': {
        const [id, paymentMethod] = value().split(':');
        if (!/^cus_\w+$/.test(id)) usage(`--seed-customer: bad customer id ${id}`);
        opts.seedCustomers.push({id, paymentMethod});
        break;
      }
      case '--seed-account': {  // a connected account with this id (its customers: --seed-customer)
        const id = value();
        if (!/^acct_[A-Za-z0-9]+$/.test(id)) usage(`--seed-account: bad account id ${id}`);
        opts.seedAccounts.push(id);
        break;
      }
      // Names an environment variable holding the secret, so it never shows in `ps`.
      case '--webhook-secret-env': webhook.secret = process.env[value()] || ''; break;
      default: usage(`unknown argument ${arg}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('--port must be 0..65535');
  // Loopback only: this server has no real authentication and must never face a network.
  if (!['127.0.0.1', '::1', 'localhost'].includes(opts.host)) usage('--host must be a loopback address');
  if (webhook.url) opts.webhook = webhook;
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const app = new App(opts);
const server = http.createServer((req, res) => {
  app.handle(req, res).catch((e) => {
    process.stderr.write(`internal error: ${e.stack}\n`);
    if (!res.headersSent) res.writeHead(500, {'Content-Type': 'application/json'});
    res.end(JSON.stringify({error: {type: 'api_error', message: 'An unknown error occurred'}}));
  });
});
server.keepAliveTimeout = 30_000;
process.stdout.on('error', () => {});  // the reader may close its end after the first line
server.on('error', (e) => {
  process.stderr.write(`cannot listen: ${e.message}\n`);
  process.exit(1);
});
server.listen(opts.port, opts.host, () => {
  const {port} = server.address();
  const host = opts.host === '::1' ? '[::1]' : opts.host;
  app.baseUrl = `http://${host}:${port}`;
  process.stdout.write(`listening ${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
