import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The project's own Node 24 (devDependency `node`), as `npm start` uses it. */
const NODE = `${ROOT}node_modules/.bin/node`;

export interface DoormanProcess {
  port: number;
  pid: number;
  child: ChildProcess;
  /** The last few kilobytes of its stdout and stderr, for failure messages. */
  output(): string;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

/** Starts `src/main.ts` as its own OS process, as `npm start` would, and waits until it answers. */
export async function startDoormanProcess(env: Record<string, string>, port: number): Promise<DoormanProcess> {
  const child = spawn(NODE, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit');
  // Should the test runner itself die, take the process along rather than leave it running.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  void exited.then(() => process.off('exit', orphanGuard));
  const proc: DoormanProcess = {
    port,
    pid: child.pid!,
    child,
    output: () => output,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Doorman on port ${port} exited at start (${child.exitCode}): ${output}`);
    const res = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`).catch(() => undefined);
    if (res?.status === 200) return proc;
    if (Date.now() > deadline) {
      await proc.kill();
      throw new Error(`Doorman on port ${port} did not answer within 60 s: ${output}`);
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
}
