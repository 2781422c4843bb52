import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type { Prisma } from '../generated/prisma/client.ts';
import { recordAudit } from '../audit/record.ts';
import type { Db } from '../db/client.ts';
import { generateSigningJwk, publicPart, type SigningAlgorithm } from './generate.ts';
import { planKeySteps, type KeyRecord, type KeyState, type KeyStep, type RotationPolicy } from './rotation.ts';

/** Any fixed 64-bit number: the lock serialises key changes between processes ("doorman"). */
const KEY_LOCK = 0x646f6f726d616e;

export interface SigningKeyRecord extends KeyRecord { alg: string; jwk: JWK }
export interface CookieSecretRecord extends KeyRecord { secret: string }
export interface KeySet { signing: SigningKeyRecord[]; cookies: CookieSecretRecord[] }

/** `algorithm` is what new signing keys are made with; `signing.algorithm`, when set, also replaces a current key of another alg. */
export interface KeyPolicies { algorithm: SigningAlgorithm; signing: RotationPolicy; cookies: RotationPolicy }

type Tx = Prisma.TransactionClient;

/** Every key row, retired ones included, newest first. */
export async function readKeys(db: Db | Tx): Promise<KeySet> {
  const [signing, cookies] = await Promise.all([
    db.signingKey.findMany({ orderBy: { createdAt: 'desc' } }),
    db.cookieSecret.findMany({ orderBy: { createdAt: 'desc' } }),
  ]);
  return {
    signing: signing.map((k) => ({ ...k, id: k.kid, state: k.state as KeyState, jwk: k.jwk as JWK })),
    cookies: cookies.map((c) => ({ ...c, state: c.state as KeyState })),
  };
}

/**
 * Brings the keys to a valid state at `now` (rotating those that are due, or all of them
 * when `force`) and returns them. Reads without the lock first: almost every call finds
 * nothing to do. Changes happen under an advisory lock in one transaction, after a re-read,
 * so two processes noticing the same due rotation make exactly one. `mayForce` judges a
 * forced rotation on that re-read: two forced rotations sent at once (a double submit)
 * would otherwise both pass a check made before the lock, and the second would make
 * current a key the other processes have not published yet.
 */
export async function settleKeys(db: Db, policies: KeyPolicies, now: Date, force = false, actor?: string, mayForce?: (keys: KeySet) => boolean): Promise<{ keys: KeySet; changed: boolean }> {
  const seen = await readKeys(db);
  if (!force && !hasSteps(seen, policies, now)) return { keys: seen, changed: false };
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_LOCK}::bigint)`;
    const keys = await readKeys(tx);
    if (force && mayForce && !mayForce(keys)) return { keys, changed: false };
    const signingSteps = planKeySteps(keys.signing, now, policies.signing, force);
    const cookieSteps = planKeySteps(keys.cookies, now, policies.cookies, force);
    if (!signingSteps.length && !cookieSteps.length) return { keys, changed: false };
    await applySteps(signingKeyTable(tx, keys.signing, policies.algorithm, now), signingSteps, now);
    await applySteps(cookieSecretTable(tx, now), cookieSteps, now);
    const settled = await readKeys(tx);
    // A rotation someone asked for (CLI, console) is audited with who asked; scheduled ones are in the log.
    if (force && actor) {
      await recordAudit(tx, {
        type: 'keys.rotated', actor,
        signingKid: settled.signing.find((k) => k.state === 'current')!.id,
        previousSigningKid: keys.signing.find((k) => k.state === 'current')?.id ?? null,
      });
    }
    return { keys: settled, changed: true };
  }, { timeout: 30_000 });
}

function hasSteps(keys: KeySet, policies: KeyPolicies, now: Date): boolean {
  return planKeySteps(keys.signing, now, policies.signing).length > 0 || planKeySteps(keys.cookies, now, policies.cookies).length > 0;
}

/** How one kind of key is changed; applySteps walks the plan, the same for signing keys and cookie secrets. */
interface KeyTable {
  update(id: string, data: { state: KeyState; activatedAt?: Date; deactivatedAt?: Date }): Promise<unknown>;
  retire(id: string): Promise<void>;
  create(state: 'current' | 'next'): Promise<unknown>;
}

async function applySteps(table: KeyTable, steps: KeyStep[], now: Date): Promise<void> {
  for (const step of steps) {
    switch (step.kind) {
      case 'demote':
        await table.update(step.id, { state: 'previous', deactivatedAt: now });
        break;
      case 'promote':
        await table.update(step.id, { state: 'current', activatedAt: now });
        break;
      case 'retire':
        await table.retire(step.id);
        break;
      case 'create':
        await table.create(step.state);
        break;
    }
  }
}

function signingKeyTable(tx: Tx, keys: SigningKeyRecord[], algorithm: SigningAlgorithm, now: Date): KeyTable {
  return {
    update: (kid, data) => tx.signingKey.update({ where: { kid }, data }),
    retire: (kid) => retireSigningKey(tx, keys.find((k) => k.id === kid)!),
    async create(state) {
      const jwk = await generateSigningJwk(algorithm);
      return tx.signingKey.create({
        data: { kid: jwk.kid!, jwk: jwk as Prisma.InputJsonObject, alg: algorithm, state, createdAt: now, activatedAt: state === 'current' ? now : null },
      });
    },
  };
}

function cookieSecretTable(tx: Tx, now: Date): KeyTable {
  return {
    update: (id, data) => tx.cookieSecret.update({ where: { id }, data }),
    retire: (id) => retireCookieSecret(tx, id),
    create: (state) => tx.cookieSecret.create({
      data: { secret: randomBytes(32).toString('base64url'), state, createdAt: now, activatedAt: state === 'current' ? now : null },
    }),
  };
}

/** Only the public half is kept: enough to tell later which key a token claimed, useless for signing should the database leak. */
async function retireSigningKey(tx: Tx, key: SigningKeyRecord): Promise<void> {
  await tx.signingKey.update({ where: { kid: key.id }, data: { state: 'retired', jwk: publicPart(key.jwk) as Prisma.InputJsonObject } });
}

/** A secret has no public half worth keeping. */
async function retireCookieSecret(tx: Tx, id: string): Promise<void> {
  await tx.cookieSecret.delete({ where: { id } });
}

export type RetireOutcome = 'retired' | 'not_found' | 'is_current' | 'already_retired';

/**
 * Retires one signing key (by kid) or cookie secret (by id) now, instead of at the end of
 * its overlap: for a key that may have leaked, whose signatures must stop verifying. The
 * current key is refused (rotate first); a retired next key is replaced at the next settle.
 */
export async function retireKeyNow(db: Db, id: string, actor?: string): Promise<RetireOutcome> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_LOCK}::bigint)`;
    const keys = await readKeys(tx);
    const signing = keys.signing.find((k) => k.id === id);
    const cookie = keys.cookies.find((k) => k.id === id);
    const found = signing ?? cookie;
    if (!found) return 'not_found';
    if (found.state === 'current') return 'is_current';
    if (found.state === 'retired') return 'already_retired';
    if (signing) await retireSigningKey(tx, signing);
    else await retireCookieSecret(tx, id);
    if (actor) await recordAudit(tx, { type: 'key.retired', actor, keyId: id, kind: signing ? 'signing' : 'cookie', was: found.state });
    return 'retired';
  });
}
