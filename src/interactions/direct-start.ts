import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { errorHandler } from '../http/error-handler.ts';
import { routedPath } from '../http/routed-path.ts';
import type { Broker, Interaction } from './broker.ts';
import { sendToUpstream, upstreamWithoutChoice } from './login.ts';

/**
 * GET|POST /auth that needs a login with nothing to choose (one upstream, or a hint,
 * login.ts): the authorization request sends the browser straight to the upstream, where
 * oidc-provider would send it to /interaction/:uid only to be redirected on. One request,
 * one interaction read and one rate-limit write less per login.
 *
 * It runs after oidc-provider has answered: the interaction is saved and its cookies are
 * set (path /interaction/<uid>, so the login page still works as the way back), and only
 * the redirect's target changes. The start counts against loginStartsPerIp through the
 * /auth request itself, once. A start that fails (upstream unreachable, database down)
 * gets the same error page as on the login page, with the login page as its way back.
 */
export function startUpstreamAtAuthorization(broker: Broker): Middleware {
  const authorizationPath = routedPath(broker.provider.pathFor('authorization'));
  const showErrors = errorHandler(broker.render, broker.log);
  return async (ctx, next) => {
    if (routedPath(ctx.path) !== authorizationPath) return next();
    await next();
    const interaction = (ctx as KoaContextWithOIDC).oidc?.entities.Interaction as Interaction | undefined;
    if (ctx.status !== 303 || interaction?.prompt.name !== 'login') return;
    const connector = upstreamWithoutChoice(broker, interaction.params);
    if (!connector) return;
    // The app's ui_locales choose the language of an error page (http/render.ts).
    ctx.state.uiLocales = interaction.params.ui_locales;
    await showErrors(ctx, () => sendToUpstream(broker, ctx, interaction, connector));
    // An error page answers instead: oidc-provider's redirect to the login page must not linger beside it.
    if (ctx.status !== 303) ctx.remove('Location');
  };
}
