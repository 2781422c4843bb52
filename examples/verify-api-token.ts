import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/**
 * An API that accepts Doorman access tokens (RFC 9068) without calling Doorman per request:
 * the signature is checked with Doorman's published keys (fetched once, refetched when a new
 * key id appears), then issuer, audience (this API's identifier), type and expiry.
 */
export function createApi(options: { issuer: string; audience: string; requiredScope: string }): Server {
  const jwks = createRemoteJWKSet(new URL(`${options.issuer}/jwks`));
  return createServer(async (req, res) => {
    const token = /^Bearer ([\w.~+/-]+=*)$/.exec(req.headers.authorization ?? '')?.[1];
    let claims;
    try {
      if (!token) throw new Error('no bearer token');
      ({ payload: claims } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience, // a token for another API is refused here
        typ: 'at+jwt', // an ID token or other JWT signed with the same keys is refused here
        algorithms: ['RS256', 'ES256', 'EdDSA'],
      }));
    } catch {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer error="invalid_token"' }).end();
      return;
    }
    if (!String(claims.scope ?? '').split(' ').includes(options.requiredScope)) {
      res.writeHead(403, { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${options.requiredScope}"` }).end();
      return;
    }
    // sub: the person (or, for client_credentials, the app); client_id: the app calling.
    res.writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ sub: claims.sub, clientId: claims.client_id, groups: claims.groups ?? [] }));
  });
}
