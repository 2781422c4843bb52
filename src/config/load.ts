import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, isLoopbackHost, type ClientConfig, type ParsedConfig, type UpstreamConfig } from './schema.ts';

export type ClientSettings = ClientConfig & { clientSecret?: string };
/** One upstream's config with its secret resolved, narrowed by `type`. */
export type UpstreamSettings = UpstreamConfig & { clientSecret: string };

/** Validated, secret-resolved, frozen configuration. */
export interface Config extends Omit<ParsedConfig, 'issuer' | 'clients' | 'upstreams' | 'tokenVault'> {
  issuer: string;
  /** Each key with its base64 secret resolved (undefined when no upstream stores tokens, or secrets are not read). */
  tokenVault: { keys: (ParsedConfig['tokenVault']['keys'][number] & { secret?: string | undefined })[] };
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

export interface LoadOptions {
  /** false: leave client and upstream secrets unresolved (CLI commands that never use them). */
  secrets?: boolean;
  /** With secrets: false, still resolve the token vault keys (`doorman token-vault rekey`). */
  vaultKeys?: boolean;
}

/** Reads the YAML file at `path` (env DOORMAN_CONFIG, else ./doorman.yaml if present). */
export function loadConfig(env: Env = process.env, path = env.DOORMAN_CONFIG ?? (existsSync('doorman.yaml') ? 'doorman.yaml' : undefined), options: LoadOptions = {}): Config {
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
  return buildConfig(raw, env, options);
}

/**
 * The environment variables Doorman reads itself, each checked like the config key it
 * overrides; problems name the variable. An empty variable counts as unset (as
 * DATABASE_URL always has). DATABASE_URL's value is never echoed: it holds a password.
 */
const envSchema = z.object({
  PORT: z.string().regex(/^\d{1,5}$/, 'must be a port number').transform(Number).pipe(configSchema.shape.port.unwrap()).optional(),
  DOORMAN_ISSUER: configSchema.shape.issuer.unwrap().optional(),
  DOORMAN_LOG_LEVEL: configSchema.shape.logLevel.unwrap().optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgresql:// URL' }).optional(),
  NODE_ENV: z.string().optional(),
});
export type EnvSettings = z.infer<typeof envSchema>;

/** The checked environment, or the problems found in it (`NAME: message` lines). */
export function parseEnvironment(env: Env): { settings: EnvSettings; problems: string[] } {
  const set = Object.fromEntries(Object.keys(envSchema.shape).flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
  const parsed = envSchema.safeParse(set);
  return parsed.success ? { settings: parsed.data, problems: [] } : { settings: {}, problems: formatIssues(parsed.error.issues) };
}

export function buildConfig(raw: unknown, env: Env = process.env, options: LoadOptions = {}): Config {
  const parsed = configSchema.safeParse(raw);
  const fromEnv = parseEnvironment(env);
  if (!parsed.success || fromEnv.problems.length) throw new ConfigError([...(parsed.success ? [] : formatIssues(parsed.error.issues)), ...fromEnv.problems]);
  const cfg = parsed.data;
  const { settings } = fromEnv;
  const problems: string[] = [];
  const production = settings.NODE_ENV === 'production';
  const port = settings.PORT ?? cfg.port;
  const issuerKey = settings.DOORMAN_ISSUER ? 'DOORMAN_ISSUER' : 'issuer';
  const issuer = (settings.DOORMAN_ISSUER ?? cfg.issuer ?? `http://localhost:${port}`).replace(/\/$/, '');
  const issuerUrl = new URL(issuer);
  if (issuerUrl.protocol !== 'https:' && (production || !isLoopbackHost(issuerUrl.hostname))) {
    problems.push(`${issuerKey}: must be https${production ? ' when NODE_ENV=production' : ' unless the host is loopback'} (got ${issuer})`);
  }

  const secret = (path: string, name: string | undefined, evenWithoutSecrets = false) => {
    if (name === undefined || (options.secrets === false && !evenWithoutSecrets)) return undefined;
    const value = env[name];
    if (!value) problems.push(`${path}: environment variable ${name} is not set`);
    return value;
  };
  const secretFile = (path: string, file: string | undefined) => {
    if (file === undefined || options.secrets === false) return undefined;
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (!value) problems.push(`${path}: ${file} is empty`);
      return value;
    } catch (err) {
      problems.push(`${path}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return undefined;
    }
  };
  const clients = cfg.clients.map((c, i) => ({ ...c, clientSecret: secret(`clients[${i}].clientSecretEnv`, c.clientSecretEnv) }));
  const upstreams = cfg.upstreams.map((u, i) => {
    for (const [key, value] of upstreamUrls(u)) {
      const url = new URL(value);
      if (url.protocol === 'http:' && (production || !isLoopbackHost(url.hostname))) {
        problems.push(`upstreams[${i}].${key}: plain http is allowed only for loopback hosts outside production (got ${value})`);
      }
    }
    const clientSecret = secret(`upstreams[${i}].clientSecretEnv`, u.clientSecretEnv) ?? secretFile(`upstreams[${i}].clientSecretFile`, u.clientSecretFile) ?? '';
    return { ...u, clientSecret };
  });
  const storesTokens = cfg.upstreams.some((u) => u.storeTokens);
  const tokenVault = {
    keys: cfg.tokenVault.keys.map((k, i) => {
      const value = storesTokens ? secret(`tokenVault.keys[${i}].secretEnv`, k.secretEnv, options.vaultKeys) : undefined;
      // Checked here so a bad key fails the start, naming the variable, not the first login.
      if (value !== undefined && !/^[A-Za-z0-9+/]{43}=$/.test(value.trim())) {
        problems.push(`tokenVault.keys[${i}].secretEnv: ${k.secretEnv} must hold 32 random bytes in base64 (openssl rand -base64 32)`);
      }
      return { ...k, secret: value };
    }),
  };
  const redisUrl = env.DOORMAN_REDIS_URL || cfg.rateLimits.redisUrl;
  if (env.DOORMAN_REDIS_URL && !/^rediss?:\/\//.test(env.DOORMAN_REDIS_URL)) problems.push('DOORMAN_REDIS_URL: must be a redis:// or rediss:// URL');
  const rateLimits = { ...cfg.rateLimits, redisUrl };
  if (cfg.metrics.port !== undefined && cfg.metrics.port === port) problems.push(`metrics.port: must differ from the main port (${port}); leave it out to serve /metrics on the main port`);
  if (problems.length) throw new ConfigError(problems);

  const logLevel = settings.DOORMAN_LOG_LEVEL ?? cfg.logLevel;
  const host = env.HOST || cfg.host;
  return deepFreeze({ ...cfg, port, host, issuer, logLevel, clients, upstreams, tokenVault, rateLimits, production, databaseUrl: settings.DATABASE_URL });
}

/** Every endpoint URL an upstream's config holds, with its key. */
function upstreamUrls(u: UpstreamConfig): [string, string][] {
  const keys = ['issuer', 'baseUrl', 'apiUrl', 'dialogUrl', 'graphUrl', 'authorizationUrl', 'tokenUrl', 'userinfoUrl'] as const;
  return keys.flatMap((k) => {
    const value = (u as Partial<Record<(typeof keys)[number], string>>)[k];
    return value ? [[k, value] as [string, string]] : [];
  });
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
