import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { benchDoormanConfig } from './doorman-config.ts';

/**
 * One server of bench:profile and bench:cpu in a process of its own, once it is ready:
 * `doorman` is the production build (dist/, bench/doorman-process.mjs); `upstream`,
 * `bare-pg` and `bare-prisma` are bench/server.ts under tsx.
 */
export async function startOneServer(kind: string, port: number, upstream: string, databaseUrl: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  let child: ChildProcess;
  if (kind === 'doorman') {
    const { input, env: secrets } = benchDoormanConfig(port, upstream, databaseUrl);
    child = fork(new URL('./doorman-process.mjs', import.meta.url).pathname, [], {
      execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_DOORMAN_CONFIG: JSON.stringify(input), BENCH_DOORMAN_ENV: JSON.stringify(secrets) },
    });
  } else {
    child = fork(new URL('./server.ts', import.meta.url).pathname, [kind, String(port), upstream], {
      execArgv: ['--import', 'tsx'], env: { ...process.env, DATABASE_URL: databaseUrl, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  }
  await once(child, 'message');
  return child;
}

/** Stops the servers one by one, then drops the throwaway schema they used in `databaseUrl`. */
export async function stopServersAndDropSchema(children: ChildProcess[], databaseUrl: URL): Promise<void> {
  for (const child of children) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  const schema = databaseUrl.searchParams.get('schema');
  const admin = new URL(databaseUrl);
  admin.searchParams.delete('schema');
  const cleanup = new pg.Client({ connectionString: admin.toString() });
  await cleanup.connect();
  await cleanup.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await cleanup.end();
}
