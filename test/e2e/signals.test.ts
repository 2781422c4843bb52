import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { freePort } from '../../src/free-port.ts';
import { commandOf, descendants, logLines, portIsOpen, survivors } from '../helpers/processes.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** `npm start` exactly as an operator (or systemd, or a container runtime) runs it, then signalled. */
describe('when the process started by `npm start` gets SIGTERM or SIGINT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-signals-'));
  chmodSync(dir, 0o755); // run as root, the embedded PostgreSQL's user must reach the data folder
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function npmStart(name: string, port: number) {
    writeFileSync(join(dir, `${name}.yaml`), `database:\n  embeddedDataDir: ${join(dir, name)}\n`);
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), DOORMAN_CONFIG: join(dir, `${name}.yaml`), DOORMAN_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { log += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { log += d; });
    await waitFor(child, () => log, 'doorman started', 90_000);
    const pg = logLines(log).find((l) => l.msg === 'embedded postgres started');
    assert.ok(pg, log);
    return { child, log: () => log, postgresPort: pg.port as number };
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal} it drains the request in flight, stops its PostgreSQL, logs "stopped" and exits 0 leaving nothing behind`, async () => {
      const port = await freePort();
      const { child, log, postgresPort } = await npmStart(signal.toLowerCase(), port);
      const family = descendants(child.pid!);
      const commands = new Map(family.map((pid) => [pid, commandOf(pid)]));
      assert.ok(family.length >= 2, 'node and postgres run below npm');
      assert.ok(await portIsOpen(postgresPort));

      // A request in flight: its body is still arriving when the signal comes. The server's
      // "100 Continue" shows it has the request (a connection without one yet is idle, and closed).
      const body = 'grant_type=client_credentials&client_id=nobody';
      const socket = connect({ host: '127.0.0.1', port });
      await once(socket, 'connect');
      let answer = '';
      socket.setEncoding('utf8').on('data', (d: string) => { answer += d; });
      socket.write(`POST /token HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body.slice(0, 10)}`);
      while (!answer.includes('100 Continue')) await once(socket, 'data');

      process.kill(child.pid!, signal);
      await waitFor(child, log, '"msg":"stopping"', 10_000);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no new connections once stopping');
      // The rest of the body, then wait for the answer: a client that half-closes first gets
      // none from Node (its server ends the socket at the client's FIN, httpAllowHalfOpen).
      socket.write(body.slice(10));
      const closed = once(socket, 'close');
      while (!/\r\n\r\nHTTP\/1\.1 \d{3} /.test(answer)) {
        if (await Promise.race([once(socket, 'data').then(() => false), closed.then(() => true)])) break;
      }
      socket.end();
      const final = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      assert.match(final, /^HTTP\/1\.1 4\d\d /, `the request in flight got its (client error) answer: ${answer}`);

      const [code] = await once(child, 'exit');
      assert.equal(code, 0, log());
      assert.match(log(), /"msg":"stopped"/);
      const left = await survivors(family);
      assert.deepEqual(left.map((pid) => commands.get(pid)), [], 'no process of the tree is left');
      assert.equal(await portIsOpen(port), false, 'Doorman port closed');
      assert.equal(await portIsOpen(postgresPort), false, 'embedded PostgreSQL port closed');
    });
  }
});

function waitFor(child: ChildProcessByStdio<null, Readable, Readable>, log: () => string, text: string, ms: number): Promise<void> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => { clearInterval(poll); fail(new Error(`no "${text}" within ${ms} ms:\n${log()}`)); }, ms);
    const poll = setInterval(() => {
      if (log().includes(text)) { clearTimeout(timer); clearInterval(poll); ok(); }
      else if (child.exitCode !== null) { clearTimeout(timer); clearInterval(poll); fail(new Error(`exited ${child.exitCode} before "${text}":\n${log()}`)); }
    }, 50);
  });
}
