import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, isLoopbackHost, type ClientConfig, type ParsedConfig, type UpstreamConfig } from './schema.ts';

export type ClientSettings = ClientConfig & { clientSecret?: string };
export type UpstreamSettings = UpstreamConfig & { clientSecret: string };

/** Validated, secret-resolved, frozen configuration. */
export interface Config extends Omit<ParsedConfig, 'issuer' | 'clients' | 'upstreams'> {
  issuer: string;
  clients: ClientSettings[];
  upstreams: UpstreamSettings[];
  production: boolean;
  /** From env DATABASE_URL; undefined means "run the embedded PostgreSQL". */
  databaseUrl: string | undefined;
}

/** Every problem in the configuration, one `key.path: message` line each. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

/** Reads the YAML file at `path` (env DOORMAN_CONFIG, else ./doorman.yaml if present). */
export function loadConfig(env: Env = process.env, path = env.DOORMAN_CONFIG ?? (existsSync('doorman.yaml') ? 'doorman.yaml' : undefined)): Config {
  let raw: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError([`${path}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError([`${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
    }
  }
  return buildConfig(raw, env);
}

export function buildConfig(raw: unknown, env: Env = process.env): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues));
  const cfg = parsed.data;
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';
  const port = env.PORT !== undefined ? Number(env.PORT) : cfg.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT: must be a port number, got "${env.PORT}"`);
  const issuer = (env.DOORMAN_ISSUER ?? cfg.issuer ?? `http://localhost:${port}`).replace(/\/$/, '');
  const issuerUrl = URL.canParse(issuer) ? new URL(issuer) : undefined;
  if (!issuerUrl) problems.push(`issuer: not a URL: "${issuer}"`);
  else if (issuerUrl.protocol !== 'https:' && (production || !isLoopbackHost(issuerUrl.hostname))) {
    problems.push(`issuer: must be https${production ? ' when NODE_ENV=production' : ' unless the host is loopback'} (got ${issuer})`);
  }

  const secret = (path: string, name: string | undefined) => {
    if (name === undefined) return undefined;
    const value = env[name];
    if (!value) problems.push(`${path}: environment variable ${name} is not set`);
    return value;
  };
  const clients = cfg.clients.map((c, i) => ({ ...c, clientSecret: secret(`clients[${i}].clientSecretEnv`, c.clientSecretEnv) }));
  const upstreams = cfg.upstreams.map((u, i) => {
    const url = new URL(u.issuer);
    if (url.protocol === 'http:' && (production || !isLoopbackHost(url.hostname))) {
      problems.push(`upstreams[${i}].issuer: plain http is allowed only for loopback hosts outside production (got ${u.issuer})`);
    }
    return { ...u, clientSecret: secret(`upstreams[${i}].clientSecretEnv`, u.clientSecretEnv) ?? '' };
  });
  if (problems.length) throw new ConfigError(problems);

  const logLevel = (env.DOORMAN_LOG_LEVEL as Config['logLevel'] | undefined) ?? cfg.logLevel;
  return deepFreeze({ ...cfg, port, issuer, logLevel, clients, upstreams, production, databaseUrl: env.DATABASE_URL || undefined });
}

function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
    return `${path || '(root)'}: ${issue.message}`;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
