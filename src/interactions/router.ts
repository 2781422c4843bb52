import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Broker } from './broker.ts';
import { handleUpstreamCallback, registerCallbackPurpose } from './callback.ts';
import { confirmConsent } from './consent.ts';
import { openLinkProof, showLinkOffer, startLinkProof } from './link.ts';
import { abortInteraction, showInteraction, startUpstreamLogin } from './login.ts';
import { openSignIn } from './sign-in.ts';

/**
 * Doorman's own pages; everything else (/auth, /token, /me, /session/end, ...) is oidc-provider's.
 *
 *   GET  /interaction/:uid                        login page (upstream buttons) or consent page
 *   POST /interaction/:uid/upstream/:connectorId  start login at that upstream (CSRF)
 *   GET  /interaction/:uid/upstream/:connectorId  the same, when the login page was skipped (CSRF in the query)
 *   POST /interaction/:uid/consent                grant the requested access (CSRF)
 *   POST /interaction/:uid/abort                  cancel: the client gets access_denied (CSRF)
 *   GET  /interaction/:uid/link                   offer to link a new identity to the account with its email
 *   POST /interaction/:uid/link/:connectorId      prove ownership of that account with one of its upstreams (CSRF)
 *   GET  /upstream/:connectorId/callback          upstream returns here; finishes the login
 */
export function createInteractionRouter(broker: Broker): Router {
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });
  registerCallbackPurpose(broker, 'login', openSignIn);
  registerCallbackPurpose(broker, 'link-proof', openLinkProof);
  router.get('/interaction/:uid', (ctx) => showInteraction(broker, ctx));
  router.post('/interaction/:uid/upstream/:connectorId', form, (ctx) => startUpstreamLogin(broker, ctx));
  router.get('/interaction/:uid/upstream/:connectorId', (ctx) => startUpstreamLogin(broker, ctx));
  router.post('/interaction/:uid/consent', form, (ctx) => confirmConsent(broker, ctx));
  router.post('/interaction/:uid/abort', form, (ctx) => abortInteraction(broker, ctx));
  router.get('/interaction/:uid/link', (ctx) => showLinkOffer(broker, ctx));
  router.post('/interaction/:uid/link/:connectorId', form, (ctx) => startLinkProof(broker, ctx));
  router.get('/upstream/:connectorId/callback', (ctx) => handleUpstreamCallback(broker, ctx));
  return router;
}
