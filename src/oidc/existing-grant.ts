import type { KoaContextWithOIDC } from 'oidc-provider';
import { askedForOfflineAccess, mayGetOfflineAccess } from './offline-access.ts';

type Grant = InstanceType<KoaContextWithOIDC['oidc']['provider']['Grant']>;

export interface ExistingGrantDeps {
  /** Clients whose grants need no consent page (configuration.ts firstPartyClientIds). */
  firstParty: ReadonlySet<string>;
  /** The scopes a person allowed a third-party app on an earlier consent page (src/consents). */
  rememberedScope(accountId: string, clientId: string): Promise<string | undefined>;
}

/**
 * oidc-provider's `loadExistingGrant`: its default (the grant this session holds for the
 * client), plus what Doorman knows beyond the session:
 *  - a first-party app is granted what it asks for, its APIs' scopes included, without a
 *    consent page (oidc-provider's "skip consent" recipe), saving the person a page and the
 *    login two redirects;
 *  - a third-party app gets the scopes the person allowed it before, remembered across
 *    sign-outs (the session's Grant ends with the session), so the consent page shows only
 *    when the app asks for something new.
 */
export function createLoadExistingGrant(deps: ExistingGrantDeps) {
  return async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const { client, session, result, provider } = ctx.oidc;
    const grantId = (result?.consent as { grantId?: string } | undefined)?.grantId ?? session?.grantIdFor(client!.clientId);
    const existing = grantId ? await provider.Grant.find(grantId) : undefined;
    if (!client || !session?.accountId) return existing;

    let scope: string;
    if (deps.firstParty.has(client.clientId)) {
      const offline = askedForOfflineAccess(ctx) && mayGetOfflineAccess(ctx) ? ['offline_access'] : [];
      scope = [...ctx.oidc.requestParamScopes, ...offline].join(' ');
    } else {
      const remembered = await deps.rememberedScope(session.accountId, client.clientId);
      if (remembered === undefined) return existing;
      scope = remembered;
    }
    const grant = existing ?? new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    const servers = Object.values(ctx.oidc.resourceServers ?? {});
    const snapshot = () => `${grant.getOIDCScope()}|${grant.getOIDCClaims().join(' ')}|${servers.map((rs) => grant.getResourceScope(rs.identifier())).join('|')}`;
    const before = snapshot();
    grant.addOIDCScope(scope);
    if (deps.firstParty.has(client.clientId)) {
      grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      // The APIs named with `resource` (RFC 8707): the requested scopes each one declares.
      for (const rs of servers) grant.addResourceScope(rs.identifier(), [...ctx.oidc.requestParamScopes].filter((s) => rs.scopes.has(s)));
    }
    if (!existing || snapshot() !== before) await grant.save();
    return grant;
  };
}
