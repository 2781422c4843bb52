import type { UpstreamSettings } from '../config/load.ts';
import { withClaimMapping } from './claim-mapping.ts';
import type { UpstreamConnector } from './connector.ts';
import { openFacebookConnector } from './facebook.ts';
import { openGithubConnector } from './github.ts';
import { openOAuth2Connector } from './oauth2.ts';
import { openOidcConnector } from './oidc.ts';

/** Builds a connector for each configured upstream, in config order (the login page's order). */
export function openConnectors(upstreams: readonly UpstreamSettings[]): Map<string, UpstreamConnector> {
  return new Map(upstreams.map((u) => [u.id, withClaimMapping(openConnector(u), u)]));
}

function openConnector(u: UpstreamSettings): UpstreamConnector {
  switch (u.type) {
    case 'google':
    case 'oidc': return openOidcConnector(u);
    case 'github': return openGithubConnector(u);
    case 'facebook': return openFacebookConnector(u);
    case 'oauth2': return openOAuth2Connector(u);
  }
}
