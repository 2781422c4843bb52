/** The apps, upstream client and upstream user every benchmark server is set up with. */
export const BENCH_CLIENTS = [
  { clientId: 'bench-app', secret: 'bench-app-secret-0123456789' },
  { clientId: 'bench-app-2', secret: 'bench-app-2-secret-0123456789' },
] as const;
export const REDIRECT_URI = 'http://127.0.0.1:9/cb';
export const UPSTREAM_CLIENT = { clientId: 'bench-doorman', clientSecret: 'bench-upstream-secret' };
export const UPSTREAM_USER = { sub: '100000000000000000042', email: 'bench@example.com', email_verified: true, name: 'Bench User' };
