import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's nginx (`apt-get install nginx`; `.ci/run` installs it when missing). */
export const NGINX_PATH = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

/** The README's sample load balancer configuration (the ```nginx block under "## Scaling"). */
export function readmeNginxSample(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const sample = /## Scaling[\s\S]*?```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!sample) throw new Error('README.md has no ```nginx block under "## Scaling"');
  return sample;
}

/**
 * The README's sample with loopback addresses: its three `server 10.0.0.1x:3000` lines aimed
 * at `backends` and its TLS listen lines replaced by plain HTTP on `port`. Everything else
 * (balancing, retries, headers) is run as written; a README edit that moves the parts
 * replaced here fails loudly rather than silently testing something else.
 */
export function loopbackConfig(sample: string, port: number, backends: number[]): string {
  let next = 0;
  const withBackends = sample.replace(/server 10\.0\.0\.\d+:3000/g, () => `server 127.0.0.1:${backends[next++]}`);
  if (next !== backends.length) throw new Error(`the README sample lists ${next} Doorman processes, the test runs ${backends.length}`);
  const tls = /listen 443 ssl;\n[\s\S]*?ssl_certificate_key [^\n]*\n/;
  if (!tls.test(withBackends)) throw new Error('the README sample no longer has the listen/ssl lines the test replaces');
  return withBackends.replace(tls, `listen 127.0.0.1:${port};\n`);
}

export interface Nginx {
  url: string;
  /** Access log lines: `msec|status|method|uri|upstream_addr|upstream_status`. */
  accessLog(): string[];
  errorLog(): string;
  close(): Promise<void>;
}

/**
 * Runs nginx in the foreground (`daemon off`) with its own prefix, pid file, logs and temp
 * folders under `dir`, never touching the system's. `httpBlock` goes inside `http {}`.
 */
export async function startNginx(dir: string, port: number, httpBlock: string): Promise<Nginx> {
  // Worker processes run as nobody when started by root: they must reach the temp folders.
  chmodSync(dir, 0o755);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { recursive: true });
  const accessLog = join(dir, 'access.log');
  const errorLog = join(dir, 'error.log');
  const conf = `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${errorLog} warn;
events { worker_connections 1024; }
http {
    log_format scaleout '$msec|$status|$request_method|$uri|$upstream_addr|$upstream_status';
    access_log ${accessLog} scaleout;
    client_body_temp_path ${join(dir, 'client_body')};
    proxy_temp_path ${join(dir, 'proxy')};
    fastcgi_temp_path ${join(dir, 'fastcgi')};
    uwsgi_temp_path ${join(dir, 'uwsgi')};
    scgi_temp_path ${join(dir, 'scgi')};
${httpBlock}
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child: ChildProcess = spawn(NGINX_PATH, ['-p', dir, '-e', errorLog, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = once(child, 'exit');
  // SIGTERM: nginx's master then stops its worker too (a SIGKILLed master would orphan it).
  const orphanGuard = () => child.kill('SIGTERM');
  process.once('exit', orphanGuard);
  void exited.then(() => process.off('exit', orphanGuard));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${read(errorLog)}`);
    const up = await fetch(`${url}/nginx-ready`).then(() => true, () => false);
    if (up) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`nginx did not listen on ${url}: ${stderr}${read(errorLog)}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return {
    url,
    accessLog: () => read(accessLog).split('\n').filter(Boolean),
    errorLog: () => read(errorLog),
    close,
  };
}
