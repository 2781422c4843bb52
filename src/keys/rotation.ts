/**
 * When keys change state: a pure decision over one kind's rows (signing keys or cookie
 * secrets), so the rules read in one place and are tested as a table.
 *
 *   next ──(rotation)──▶ current ──(rotation)──▶ previous ──(overlap over)──▶ retired
 *
 * `next` exists so that everyone who verifies (RPs caching the JWKS, another Doorman process
 * that has not re-read the keys yet) already knows a key before it signs anything.
 * `previous` stays published until everything it signed has expired.
 */

export const KEY_STATES = ['next', 'current', 'previous', 'retired'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export interface KeyRecord {
  id: string;
  state: KeyState;
  /** Signing keys only: the JWS alg it was made for. */
  alg?: string;
  createdAt: Date;
  activatedAt: Date | null;
  deactivatedAt: Date | null;
}

export interface RotationPolicy {
  /** How long a key is current. */
  rotateEveryMs: number;
  /** How long a previous key keeps verifying after it stopped signing. */
  keepPreviousMs: number;
  /** Signing keys: the configured alg; a current key of another alg is replaced at once. */
  algorithm?: string;
}

export type KeyStep =
  | { kind: 'demote'; id: string }
  | { kind: 'promote'; id: string }
  | { kind: 'create'; state: 'current' | 'next' }
  | { kind: 'retire'; id: string };

/**
 * The steps that bring `keys` to a valid state at `now`: exactly one current key (of the
 * configured alg), one next key, and no previous key past its overlap. `force` rotates
 * even when the current key is not due (`doorman keys rotate`).
 */
export function planKeySteps(keys: readonly KeyRecord[], now: Date, policy: RotationPolicy, force = false): KeyStep[] {
  const steps: KeyStep[] = [];
  const live = keys.filter((k) => k.state !== 'retired');
  const fits = (k: KeyRecord) => policy.algorithm === undefined || k.alg === policy.algorithm;
  const newestFirst = (a: KeyRecord, b: KeyRecord) => (b.activatedAt ?? b.createdAt).getTime() - (a.activatedAt ?? a.createdAt).getTime();

  const currents = live.filter((k) => k.state === 'current').sort(newestFirst);
  // Two current keys only after a manual edit: the newest wins.
  for (const extra of currents.slice(1)) steps.push({ kind: 'demote', id: extra.id });
  const current = currents[0];
  const nexts = live.filter((k) => k.state === 'next').sort(newestFirst);
  // A next key of another alg (keys.algorithm changed) never signed anything: retire it.
  for (const unfit of nexts.filter((k) => !fits(k))) steps.push({ kind: 'retire', id: unfit.id });
  const next = nexts.find(fits);
  for (const extra of nexts.filter((k) => fits(k) && k !== next)) steps.push({ kind: 'retire', id: extra.id });

  const due = force || !current || !fits(current)
    || now.getTime() >= (current.activatedAt ?? current.createdAt).getTime() + policy.rotateEveryMs;
  if (due) {
    if (current) steps.push({ kind: 'demote', id: current.id });
    steps.push(next ? { kind: 'promote', id: next.id } : { kind: 'create', state: 'current' });
    steps.push({ kind: 'create', state: 'next' });
  } else if (!next) {
    steps.push({ kind: 'create', state: 'next' });
  }

  for (const k of live) {
    if (k.state === 'previous' && now.getTime() >= (k.deactivatedAt ?? k.createdAt).getTime() + policy.keepPreviousMs) {
      steps.push({ kind: 'retire', id: k.id });
    }
  }
  return steps;
}
