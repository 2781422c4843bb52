import { configKeyTable } from '../config/docs.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import { createDb } from '../db/client.ts';
import { startEmbeddedPostgres } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { startDemo } from '../demo/demo.ts';
import { createLogger, type Logger } from '../log.ts';
import { ACCOUNTS_USAGE, runAccountsCommand } from './accounts.ts';
import { runBackupCommand } from './backup.ts';

/**
 * `doorman <command>` (run as `npm run doorman -- <command>`):
 *   migrate   apply pending migrations to DATABASE_URL (or the embedded database) and exit
 *   demo      Doorman + a look-alike Google + a sample app on this machine; prints the URL to open
 *   config-docs   print the configuration key table (as in the README)
 *   accounts ...  list, show, link, unlink, merge, disable, enable, grant-admin (see ./accounts.ts)
 *   backup <file> | restore <file>   the stopped embedded database (see ./backup.ts)
 */
const USAGE = `usage: doorman <command>
  migrate   apply pending database migrations and exit
  demo      run Doorman with a demo Google and a sample app (never in production)
  config-docs  print the configuration key table (Markdown)
  accounts  administer accounts (run "doorman accounts" for its commands)
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
      const log = createLogger((process.env.DOORMAN_LOG_LEVEL as 'info' | undefined) ?? 'warn');
      const demo = await startDemo({ port: Number(process.env.PORT ?? 3000), env: process.env, log });
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
      return withDatabase(async (url) => {
        const db = createDb(url, 2);
        try {
          return await runAccountsCommand(db, argv.slice(1), (line) => process.stdout.write(`${line}\n`));
        } finally {
          await db.$disconnect();
        }
      });
    case 'backup':
    case 'restore':
      return runBackupCommand(command, argv.slice(1), loadConfig(), (line) => process.stdout.write(`${line}\n`));
    case 'config-docs':
      process.stdout.write(`${configKeyTable()}\n`);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return command ? 2 : 0;
  }
}

/**
 * Runs `fn` against DATABASE_URL, or against the embedded PostgreSQL, which it starts and
 * stops around `fn` (so, with the embedded database, run these while Doorman is stopped).
 */
async function withDatabase(fn: (url: string, log: Logger) => Promise<number>): Promise<number> {
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.database.embeddedDataDir, log);
  try {
    return await fn(config.databaseUrl ?? embedded!.url, log);
  } finally {
    await embedded?.stop();
  }
}

run(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`doorman: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
