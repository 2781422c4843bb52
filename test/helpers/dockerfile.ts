import { readFileSync } from 'node:fs';

export interface Instruction { keyword: string; args: string; line: number }
export interface Stage { name: string | undefined; from: string; instructions: Instruction[] }

/** The Dockerfile's instructions, grouped by stage (comments dropped, `\` continuations joined). */
export function parseDockerfile(path: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let startLine = 0;
  readFileSync(path, 'utf8').split('\n').forEach((raw, i) => {
    const text = raw.trim();
    if (!pending && (text === '' || text.startsWith('#'))) return;
    if (!pending) startLine = i + 1;
    if (text.startsWith('#')) return; // a comment inside a continued instruction
    if (text.endsWith('\\')) {
      pending += `${text.slice(0, -1)} `;
      return;
    }
    const whole = pending + text;
    pending = '';
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(whole) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim(), line: startLine };
    if (instruction.keyword === 'FROM') {
      const [from = '', , name] = instruction.args.split(/\s+/);
      stages.push({ name, from, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  });
  return stages;
}

/** An exec-form (JSON array) argument list, e.g. of CMD or ENTRYPOINT. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not exec form: ${args}`);
  return parsed;
}
