import { ConfigError, loadConfig } from './config/load.ts';
import { createLogger } from './log.ts';
import { startDoorman } from './server.ts';

/** Process entry for `npm start`: config → database → app → listen; SIGTERM/SIGINT close in reverse. */
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
  const doorman = await startDoorman(config, log);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await doorman.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`doorman: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
