// node-oidc-provider, configured as an MCP deployment's authorization server, for
// tests/test_oidc.py. See README.md beside this file.
//
//   node provider.mjs --prefix <dir with node_modules/oidc-provider> --resource <MCP URL>
//                     [--access-token-ttl 5] [--scope mcp:tools] [--port 0]
//
// It listens on 127.0.0.1 (port 0: any free port) and prints one JSON line on stdout once
// it accepts connections: {"issuer": "http://127.0.0.1:PORT"}. Nothing else is written to
// stdout (the test stops reading it); diagnostics go to stderr.
//
// Configured the way deployments are: open dynamic client registration (RFC 7591), the
// authorization code flow with PKCE S256 required for every client, resource indicators
// (RFC 8707) issuing JWT access tokens (RFC 9068, ES256) whose audience is the MCP server's
// URL, refresh tokens by policy (every client allowed the refresh_token grant gets one,
// without offline_access), DPoP (RFC 9449), revocation (RFC 7009) and introspection
// (RFC 7662), and login and consent pages (the devInteractions feature: any login).
//
// For the test only: GET /_test/events answers the provider's events so far, as JSON
// ({"events": [{"name": "grant.success", "client_id": ..., "grant_type": ...}, ...]}).

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values: args } = parseArgs({
  options: {
    prefix: { type: 'string' },
    resource: { type: 'string' },
    'access-token-ttl': { type: 'string', default: '5' },
    scope: { type: 'string', default: 'mcp:tools' },
    port: { type: 'string', default: '0' },
  },
});
if (!args.prefix || !args.resource) {
  console.error('usage: provider.mjs --prefix DIR --resource URL [--access-token-ttl S] [--scope S]');
  process.exit(2);
}
const resource = args.resource;
const accessTokenTTL = Number(args['access-token-ttl']);
const resourceScope = args.scope;

// oidc-provider is installed in its own prefix (.ci-cache/oidc), not beside this file.
const requireFromPrefix = createRequire(path.join(path.resolve(args.prefix), 'package.json'));
const { default: Provider, errors } = await import(
  pathToFileURL(requireFromPrefix.resolve('oidc-provider')).href
);

function signingKey(kind, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(kind, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg}-${crypto.randomUUID()}` };
}

const events = [];
function record(name, ctx, extra = {}) {
  const oidc = ctx?.oidc;
  events.push({
    name,
    at: Date.now() / 1000,
    client_id: oidc?.client?.clientId ?? oidc?.params?.client_id ?? null,
    grant_type: oidc?.params?.grant_type ?? null,
    ...extra,
  });
}

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks: {
    keys: [
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256'), // access tokens
      signingKey('rsa', { modulusLength: 2048 }, 'RS256'), // ID tokens (the default alg)
    ],
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) {
          throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        }
        return {
          scope: resourceScope,
          audience: resource,
          accessTokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  // Refresh tokens for every client registered for the refresh_token grant.
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  ttl: {
    AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    DeviceCode: 600,
    BackchannelAuthenticationRequest: 600,
    PreAuthorizedCode: 600,
    Grant: 3600,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 3600,
    Session: 3600,
  },
  clientBasedCORS: () => false,
  renderError: (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
});

for (const name of [
  'registration_create.success',
  'interaction.started',
  'interaction.ended',
  'authorization.success',
  'authorization.error',
  'grant.success',
  'grant.error',
  'revocation.error',
  'introspection.error',
  'server_error',
]) {
  provider.on(name, (ctx, error) => {
    record(name, ctx, error instanceof Error ? { error: error.error ?? error.message } : {});
    if (error instanceof Error) console.error(`${name}: ${error.error ?? ''} ${error.message}`);
  });
}
provider.on('grant.revoked', (ctx, grantId) => record('grant.revoked', ctx, { grant_id: grantId }));

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'GET' && req.url === '/_test/events') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ events }));
    return;
  }
  callback(req, res);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
