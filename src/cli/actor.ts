import { userInfo } from 'node:os';

/** The audit actor of everything an operator does through the CLI: `cli:<os user>`. */
export function cliActor(): string {
  return `cli:${userInfo().username}`;
}
