import { adminLinkIdentity, getAccount, mergeAccounts, searchAccounts, setAdmin, setDisabled, type AdminOutcome } from '../accounts/admin.ts';
import { choosePrimaryEmail, unlinkIdentity } from '../accounts/service.ts';
import type { Db } from '../db/client.ts';
import { cliActor } from './actor.ts';

/**
 * `doorman accounts ...`: the admin API's actions for someone on the server, straight on
 * the database (how the first admin is made). Audited with actor `cli:<os user>`.
 */
export const ACCOUNTS_USAGE = `usage: doorman accounts <command>
  list [search]                                  accounts (JSON), optionally matching an id, email, subject or provider
  show <accountId>                               one account with identities and recent audit (JSON)
  link <accountId> <provider> <subject> [email]  attach an identity (moves it, or pre-provisions it)
  unlink <accountId> <identityId>                remove an identity (never the last)
  merge <survivorId> <retiredId>                 move identities, consents and audit; retire the other
  disable <accountId> | enable <accountId>       disabling ends sessions and revokes tokens
  grant-admin <accountId> | revoke-admin <accountId>
  set-email <accountId> <email>                  the primary email apps see (one its identities verified)`;

export async function runAccountsCommand(db: Db, args: string[], out: (line: string) => void): Promise<number> {
  const actor = cliActor();
  const [command, ...rest] = args;
  const need = (n: number) => {
    if (rest.length < n) throw new UsageError();
    return rest as [string, string, string, string?];
  };
  const done = (outcome: AdminOutcome<object> | { kind: string; reason?: string }, what: string) => {
    if (outcome.kind === 'refused') {
      out(`refused: ${(outcome as { reason: string }).reason}`);
      return 3;
    }
    out(what);
    return 0;
  };
  try {
    switch (command) {
      case 'list': {
        const { accounts } = await searchAccounts(db, { limit: 200, ...(rest[0] ? { query: rest[0] } : {}) });
        out(JSON.stringify(accounts, null, 2));
        return 0;
      }
      case 'show': {
        const account = await getAccount(db, need(1)[0]);
        if (!account) return done({ kind: 'refused', reason: 'account_not_found' }, '');
        out(JSON.stringify(account, null, 2));
        return 0;
      }
      case 'link': {
        const [id, provider, subject, email] = need(3);
        return done(await adminLinkIdentity(db, id, { provider, subject, ...(email ? { email } : {}) }, actor), `linked ${provider}:${subject} to ${id}`);
      }
      case 'unlink': {
        const [id, identityId] = need(2);
        return done(await unlinkIdentity(db, id, identityId, actor), `unlinked ${identityId} from ${id}`);
      }
      case 'merge': {
        const [survivor, retired] = need(2);
        return done(await mergeAccounts(db, survivor, retired, actor), `merged ${retired} into ${survivor}`);
      }
      case 'disable': return done(await setDisabled(db, need(1)[0], true, actor), `disabled ${rest[0]}`);
      case 'enable': return done(await setDisabled(db, need(1)[0], false, actor), `enabled ${rest[0]}`);
      case 'grant-admin': return done(await setAdmin(db, need(1)[0], true, actor), `${rest[0]} is an admin`);
      case 'revoke-admin': return done(await setAdmin(db, need(1)[0], false, actor), `${rest[0]} is no longer an admin`);
      case 'set-email': {
        const [id, email] = need(2);
        const outcome = await choosePrimaryEmail(db, id, email, actor);
        return done(outcome, `${id} now shows ${outcome.kind === 'done' ? outcome.email : ''}`);
      }
      default: throw new UsageError();
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    out(ACCOUNTS_USAGE);
    return 2;
  }
}

class UsageError extends Error {}
