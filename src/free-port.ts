import { createServer } from 'node:net';

/** A TCP port on loopback that was free a moment ago (the embedded PostgreSQL, the demo, tests). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}
