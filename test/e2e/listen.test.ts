import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildConfig } from '../../src/config/load.ts';
import { freePort } from '../../src/free-port.ts';
import { startDoorman, type RunningDoorman } from '../../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { portIsOpen } from '../helpers/processes.ts';
import { testLog } from '../helpers/start-doorman.ts';

describe('the listen address, /healthz and the bounded drain on close', () => {
  let db: TestDatabase;
  before(async () => { db = await createTestDatabase(); });
  after(() => db.drop());

  async function start(config: Record<string, unknown>, env: Record<string, string>): Promise<RunningDoorman & { port: number }> {
    const port = await freePort();
    return startDoorman(buildConfig({ port, ...config }, { DATABASE_URL: db.url, ...env }), testLog);
  }

  it('binds to the address in env HOST only (a proxy on the same host is the way in)', async () => {
    const doorman = await start({ host: '0.0.0.0' }, { HOST: '127.0.0.1' });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${doorman.port}/healthz`)).status, 200);
      // 127.0.0.2 is loopback too, so only the bind address keeps it out.
      assert.equal(await portIsOpen(doorman.port, '127.0.0.2'), false);
    } finally {
      await doorman.close();
    }
  });

  it('listens on every interface by default', async () => {
    const doorman = await start({}, {});
    try {
      assert.equal(await portIsOpen(doorman.port, '127.0.0.2'), true);
    } finally {
      await doorman.close();
    }
  });

  it('answers /healthz with 200 {"status":"ok"}, uncached', async () => {
    const doorman = await start({ host: '127.0.0.1' }, {});
    try {
      const res = await fetch(`http://127.0.0.1:${doorman.port}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok' });
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal((await fetch(`http://127.0.0.1:${doorman.port}/healthz`, { method: 'POST' })).status, 404);
    } finally {
      await doorman.close();
    }
  });

  it('cuts a request that never finishes once the drain time is over', { timeout: 20_000 }, async () => {
    const doorman = await start({ host: '127.0.0.1' }, {});
    const socket = connect({ host: '127.0.0.1', port: doorman.port });
    await once(socket, 'connect');
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => { answer += d; });
    // Headers announce a body that never comes; "100 Continue" shows the request is in flight.
    socket.write(`POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`);
    while (!answer.includes('100 Continue')) await once(socket, 'data');
    const closed = once(socket, 'close');
    const started = Date.now();
    await doorman.close(300);
    await closed;
    assert.ok(Date.now() - started < 5000, 'close returned within a bound of its drain time');
    assert.doesNotMatch(answer.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''), /HTTP\/1\.1/, 'the hung request was cut, not answered');
  });
});
