// CPU profiling on request, so a profile covers steady load and not start-up (module
// loading, compiling): {cmd: 'profile-start'} then {cmd: 'profile-stop', file} over IPC,
// answered {profiled: file}. Used by bench/server.ts and bench/doorman-process.mjs.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

let session;

export async function onProfileCommand(msg) {
  if (msg.cmd === 'profile-start') {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    process.send({ profiling: true });
  } else if (msg.cmd === 'profile-stop') {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(msg.file, JSON.stringify(profile));
    process.send({ profiled: msg.file });
  }
}
