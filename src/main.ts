import { ConfigError, loadConfig } from './config/load.ts';
import { createLogger } from './log.ts';
import { DRAIN_MS, startDoorman } from './server.ts';

/**
 * Process entry (`npm start`, `node dist/main.js`): config → database → app → listen.
 * SIGTERM/SIGINT close in reverse: stop accepting, drain in-flight requests (bounded),
 * close the pool, stop the embedded PostgreSQL, log "stopped", exit 0.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`doorman: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  if (config.clients.length === 0 || config.upstreams.length === 0) {
    log.warn('no clients or no upstreams configured; see README "Configuration"', { clients: config.clients.length, upstreams: config.upstreams.length });
  }
  if (config.issuer.startsWith('https:') && !config.trustProxy) {
    // Doorman speaks plain HTTP; without trusting the TLS proxy it cannot tell requests
    // arrived over https, and oidc-provider then leaves the Secure flag off its cookies.
    log.warn('issuer is https but trustProxy is false: set trustProxy when a TLS proxy fronts Doorman');
  }
  // Handlers go in before the start: a signal while the embedded PostgreSQL is starting
  // must still stop it rather than leave it running as an orphan.
  const starting = startDoorman(config, log);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal, drainSeconds: DRAIN_MS / 1000 });
    try {
      const doorman = await starting;
      await doorman.close(DRAIN_MS);
    } catch (err) {
      log.error('stop failed', { error: err });
      process.exit(1);
    }
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await starting;
}

main().catch((err: unknown) => {
  process.stderr.write(`doorman: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
