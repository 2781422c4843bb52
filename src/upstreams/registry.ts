import type { UpstreamSettings } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { UpstreamConnector } from './connector.ts';
import { openOidcConnector } from './oidc.ts';

/** Builds a connector for each configured upstream, in config order (the login page's order). */
export function openConnectors(upstreams: readonly UpstreamSettings[], log: Logger): Map<string, UpstreamConnector> {
  return new Map(upstreams.map((u) => {
    switch (u.type) {
      case 'google': return [u.id, openOidcConnector(u, log)];
    }
  }));
}
