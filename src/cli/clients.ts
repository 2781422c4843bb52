import { parseArgs } from 'node:util';
import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { openClientRegistry } from '../clients/registry.ts';
import { createDatabaseClient, deleteClient, rotateClientSecret, updateDatabaseClientSettings, viewOf, type ClientOutcome } from '../clients/service.ts';
import { cliActor } from './actor.ts';

/**
 * `doorman clients ...`: the admin API's app actions for someone on the server, through
 * the same service (clients/service.ts), audited with actor `cli:<os user>`. Running
 * Doorman processes pick the change up within seconds.
 */
export const CLIENTS_USAGE = `usage: doorman clients <command>
  list                           every app (JSON): the config file's (readOnly) and the database's
  show <clientId>                one app (JSON)
  create <clientId> --name <name> --redirect-uri <uri> [options]
                                 a new app; prints its secret, the only time it is shown
  update <clientId> [options]    change the settings given (the others stay)
  rotate-secret <clientId>       a new secret, printed once; the old one stops working
  delete <clientId>              delete the app with its tokens, grants and consents
options (repeat the list ones; a list given replaces the whole list):
  --name <text>  --redirect-uri <uri>...  --post-logout-uri <uri>...  --upstream <id>... (none: all)
  --grant-type authorization_code|refresh_token|client_credentials...  --first-party yes|no
  --signup yes|no  --pkce required|optional  --public (create only: no secret, PKCE always)`;

const OPTIONS = {
  name: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-uri': { type: 'string', multiple: true },
  upstream: { type: 'string', multiple: true },
  'grant-type': { type: 'string', multiple: true },
  'first-party': { type: 'string' },
  signup: { type: 'string' },
  pkce: { type: 'string' },
  public: { type: 'boolean' },
} as const;

export async function runClientsCommand(db: Db, config: Config, log: Logger, args: string[], out: (line: string) => void): Promise<number> {
  const actor = cliActor();
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    out(`${(err as Error).message}\n${CLIENTS_USAGE}`);
    return 2;
  }
  const [command, clientId, ...extra] = parsed.positionals;
  const needsId = command !== 'list';
  if (!command || (needsId && !clientId) || extra.length || (command !== 'create' && parsed.values.public)) {
    out(CLIENTS_USAGE);
    return 2;
  }
  const clients = await openClientRegistry({ config, db, log });
  const deps = { db, config, clients };
  const done = (outcome: ClientOutcome<object>, shown: unknown) => {
    if (outcome.kind === 'invalid') out(`invalid:\n${outcome.problems.map((p) => `  ${p}`).join('\n')}`);
    else if (outcome.kind === 'refused') out(`refused: ${outcome.reason}`);
    else out(JSON.stringify(shown, null, 2));
    return outcome.kind === 'done' ? 0 : 3;
  };
  try {
    const settings = settingsFrom(parsed.values);
    switch (command) {
      case 'list':
        out(JSON.stringify(clients.list().map(viewOf), null, 2));
        return 0;
      case 'show': {
        const client = clients.get(clientId);
        return client ? done({ kind: 'done' }, viewOf(client)) : done({ kind: 'refused', reason: 'not_found' }, null);
      }
      case 'create': {
        const outcome = await createDatabaseClient(deps, { ...settings, clientId, public: parsed.values.public ?? false }, actor);
        return done(outcome, outcome.kind === 'done' ? { ...outcome.client, clientSecret: outcome.clientSecret } : null);
      }
      case 'update': {
        const outcome = await updateDatabaseClientSettings(deps, clientId!, settings, actor);
        return done(outcome, outcome.kind === 'done' ? outcome.client : null);
      }
      case 'rotate-secret': {
        const outcome = await rotateClientSecret(deps, clientId!, actor);
        return done(outcome, outcome.kind === 'done' ? { clientId, clientSecret: outcome.clientSecret } : null);
      }
      case 'delete': {
        const outcome = await deleteClient(deps, clientId!, actor);
        return done(outcome, outcome.kind === 'done' ? { clientId, deleted: true, revoked: outcome.revoked } : null);
      }
      default:
        out(CLIENTS_USAGE);
        return 2;
    }
  } finally {
    clients.close();
  }
}

/** Only the options given: `update` changes those and keeps the rest. yes/no words pass through for the service to refuse. */
function settingsFrom(v: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string }) {
  const yesNo = (word: string | undefined) => (word === undefined ? undefined : word === 'yes' ? true : word === 'no' ? false : word);
  const entries: [string, unknown][] = [
    ['name', v.name], ['redirectUris', v['redirect-uri']], ['postLogoutRedirectUris', v['post-logout-uri']], ['upstreams', v.upstream],
    ['grantTypes', v['grant-type']], ['firstParty', yesNo(v['first-party'])], ['allowSignup', yesNo(v.signup)], ['pkce', v.pkce],
  ];
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined));
}
