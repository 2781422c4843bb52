import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configKeyTable } from '../config/docs.ts';
import { ConfigError, loadConfig, parseEnvironment, type Config } from '../config/load.ts';
import { createDb, type Db } from '../db/client.ts';
import { startEmbeddedPostgres } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { isDatabaseUnavailable, outageReason } from '../db/outage.ts';
import { startDemo } from '../demo/demo.ts';
import { createLogger, type Logger } from '../log.ts';
import { ACCOUNTS_USAGE, runAccountsCommand } from './accounts.ts';
import { KEYS_USAGE, runKeysCommand } from './keys.ts';
import { CLIENTS_USAGE, runClientsCommand } from './clients.ts';
import { runBackupCommand } from './backup.ts';
import { openTokenVault } from '../token-vault/vault.ts';

/**
 * `doorman <command>` (run as `npm run doorman -- <command>`):
 *   migrate   apply pending migrations to DATABASE_URL (or the embedded database) and exit
 *   demo      Doorman + a look-alike Google + a sample app on this machine; prints the URL to open
 *   config-docs   print the configuration key table (as in the README)
 *   config check [file]   validate a config file and print each upstream's callback URL (and signed-out URL)
 *   accounts ...  list, show, link, unlink, merge, disable, enable, grant-admin (see ./accounts.ts)
 *   keys ...      list, rotate, retire (see ./keys.ts)
 *   clients ...   list, show, create, update, rotate-secret, delete apps (see ./clients.ts)
 *   token-vault rekey   re-encrypt stored upstream tokens with the current tokenVault key
 *   backup <file> | restore <file>   the stopped embedded database (see ./backup.ts)
 * Commands on the database do not read app or upstream secrets: they run beside a server
 * without its secrets in their environment.
 */
const USAGE = `usage: doorman <command>
  migrate   apply pending database migrations and exit
  demo      run Doorman with look-alike upstreams (Google, GitHub, Facebook, OIDC, OAuth2) and a sample app (never in production)
  config-docs  print the configuration key table (Markdown)
  config check [file]  validate a config file (default: DOORMAN_CONFIG or ./doorman.yaml) and print the upstream callback (and signed-out) URLs
  accounts  administer accounts (run "doorman accounts" for its commands)
  keys      list, rotate or retire signing keys and cookie secrets (run "doorman keys" for its commands)
  clients   manage apps (OIDC clients) kept in the database (run "doorman clients" for its commands)
  token-vault rekey  re-encrypt every stored upstream token with the current tokenVault key (reads only those keys)
  backup <file>   copy the embedded database (Doorman stopped) into <file>
  restore <file>  restore such a copy into a new embedded data folder`;

async function run(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'migrate':
      return withDatabase(async (url, log) => {
        const applied = await migrate(url, log);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
        return 0;
      });
    case 'demo': {
      const { settings, problems } = parseEnvironment(process.env);
      if (problems.length) throw new ConfigError(problems);
      const log = createLogger(settings.DOORMAN_LOG_LEVEL ?? 'warn');
      const demo = await startDemo({ port: settings.PORT ?? 3000, env: process.env, log });
      process.stdout.write(`\nDoorman demo is running. Open ${demo.url} and click "Sign in".\nStop with Ctrl+C.\n`);
      await new Promise<void>((ok) => {
        process.once('SIGINT', ok);
        process.once('SIGTERM', ok);
      });
      await demo.close();
      return 0;
    }
    case 'accounts':
      if (argv.length < 2) {
        process.stderr.write(`${ACCOUNTS_USAGE}\n`);
        return 2;
      }
      return withDb((db) => runAccountsCommand(db, argv.slice(1), (line) => process.stdout.write(`${line}\n`)));
    case 'keys':
      if (!['list', 'rotate', 'retire'].includes(argv[1] ?? '')) {
        process.stderr.write(`${KEYS_USAGE}\n`);
        return 2;
      }
      return withDb((db, _log, config) => runKeysCommand(db, config, argv.slice(1), (line) => process.stdout.write(`${line}\n`)));
    case 'clients':
      if (argv.length < 2) {
        process.stderr.write(`${CLIENTS_USAGE}\n`);
        return 2;
      }
      return withDb((db, log, config) => runClientsCommand(db, config, log, argv.slice(1), (line) => process.stdout.write(`${line}\n`)));
    case 'token-vault':
      if (argv[1] !== 'rekey' || argv.length > 2) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      return withDb(async (db) => {
        const config = loadConfig(process.env, undefined, { secrets: false, vaultKeys: true });
        const vault = openTokenVault(config, db, new Map());
        if (!vault) throw new CliError('no upstream has storeTokens: there is nothing to re-encrypt');
        const count = await vault.rekey();
        process.stdout.write(`re-encrypted ${count} stored token set(s) with key ${vault.currentKeyId}\n`);
        return 0;
      });
    case 'backup':
    case 'restore':
      return runBackupCommand(command, argv.slice(1), loadConfig(), (line) => process.stdout.write(`${line}\n`));
    case 'config-docs':
      process.stdout.write(`${configKeyTable()}\n`);
      return 0;
    case 'config':
      if (argv[1] !== 'check' || argv.length > 3) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      return checkConfig(argv[2]);
    default:
      process.stderr.write(`${USAGE}\n`);
      return command ? 2 : 0;
  }
}

/** Loads the config as Doorman would start with it (secrets included) and prints what to register upstream. */
function checkConfig(path: string | undefined): number {
  const config = loadConfig(process.env, path);
  const source = path ?? process.env.DOORMAN_CONFIG ?? (existsSync('doorman.yaml') ? 'doorman.yaml' : '(no file: defaults and environment)');
  const lines = [`${source}: configuration is valid`, `issuer: ${config.issuer}`];
  if (config.upstreams.length) {
    lines.push('callback (redirect) URLs to register at each upstream:');
    for (const u of config.upstreams) lines.push(`  ${u.id} (${u.type}): ${config.issuer}/upstream/${encodeURIComponent(u.id)}/callback`);
    // Only browser sign-outs come back; Google's signOutUpstream revokes tokens and needs nothing registered.
    const signingOut = config.upstreams.filter((u) => u.type === 'oidc' && u.signOutUpstream);
    if (signingOut.length) lines.push('post-logout redirect URLs to register (signOutUpstream):');
    for (const u of signingOut) lines.push(`  ${u.id} (${u.type}): ${config.issuer}/upstream/${encodeURIComponent(u.id)}/signed-out`);
  } else {
    lines.push('no upstreams configured: nobody can sign in yet');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** An error whose message is the whole story for the operator. */
class CliError extends Error {}

/**
 * Runs `fn` against DATABASE_URL, or against the embedded PostgreSQL, which it starts and
 * stops around `fn`. The embedded database serves one process at a time: when a running
 * Doorman holds it, this says so instead of failing obscurely.
 */
async function withDatabase(fn: (url: string, log: Logger, config: Config) => Promise<number>): Promise<number> {
  const config = loadConfig(process.env, undefined, { secrets: false });
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const embedded = config.databaseUrl ? undefined : await startEmbedded(config.database.embeddedDataDir, log);
  try {
    return await fn(config.databaseUrl ?? embedded!.url, log, config);
  } finally {
    await embedded?.stop();
  }
}

/** As withDatabase, with a small Prisma client on it, disconnected before the database stops. */
function withDb(fn: (db: Db, log: Logger, config: Config) => Promise<number>): Promise<number> {
  return withDatabase(async (url, log, config) => {
    const db = createDb(url, 2);
    try {
      return await fn(db, log, config);
    } finally {
      await db.$disconnect();
    }
  });
}

async function startEmbedded(dataDir: string, log: Logger) {
  const dir = resolve(dataDir);
  const whatToDo = 'Stop that Doorman and run this again, or set DATABASE_URL to a PostgreSQL you run yourself (for both Doorman and this command).';
  const holder = runningPostmaster(dir);
  if (holder) throw new CliError(`the embedded database in ${dir} is in use by a running Doorman (PostgreSQL process ${holder}). ${whatToDo}`);
  try {
    return await startEmbeddedPostgres(dataDir, log);
  } catch (err) {
    throw new CliError(`could not start the embedded database in ${dir}${err instanceof Error ? `: ${err.message}` : ''}. If a Doorman is running on it: ${whatToDo}`);
  }
}

/** The pid in the data folder's postmaster.pid when that process is alive (PostgreSQL's own lock file). */
function runningPostmaster(dir: string): number | undefined {
  const file = join(dir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: alive, but another user's (Postgres runs as its own user when we are root).
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

run(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  // One line an operator can act on, not Prisma's multi-line quote of our code.
  if (isDatabaseUnavailable(err)) {
    process.stderr.write(`doorman: the database is unreachable (${outageReason(err)}). Check that PostgreSQL is running and that DATABASE_URL points at it.\n`);
    process.exit(1);
  }
  process.stderr.write(`doorman: ${err instanceof ConfigError || err instanceof Error ? err.message : `failed: ${String(err)}`}\n`);
  process.exit(1);
});
