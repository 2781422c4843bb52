import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import { upstreamCallbackUrl } from '../interactions/broker.ts';
import type { UpstreamConnector } from '../upstreams/connector.ts';
import { readUpstreamActivity, type UpstreamActivity } from './repository.ts';
import type { UpstreamCallNotes } from './upstream-call-notes.ts';

/** One configured upstream as the console and GET /admin/api/upstreams show it. */
export interface UpstreamOverview extends UpstreamActivity {
  id: string;
  displayName: string;
  type: UpstreamConnector['type'];
  /** What to register at the upstream as the redirect (callback) URL. */
  callbackUrl: string;
}

/**
 * Every configured upstream (YAML order), with what the whole deployment saw of it: this
 * process's queued notes are written first, so they count at once; other processes' notes
 * arrive within their flush interval.
 */
export async function readUpstreamOverview(deps: { db: Db; config: Config; connectors: ReadonlyMap<string, UpstreamConnector>; upstreamCallNotes: UpstreamCallNotes }): Promise<UpstreamOverview[]> {
  await deps.upstreamCallNotes.flush();
  const connectors = [...deps.connectors.values()];
  const activity = await readUpstreamActivity(deps.db, connectors.map((c) => c.id));
  return connectors.map((c) => ({
    id: c.id, displayName: c.displayName, type: c.type, callbackUrl: upstreamCallbackUrl(deps.config, c.id).href, ...activity.get(c.id)!,
  }));
}
