import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';

export interface ProviderKeys {
  /** Private signing JWKs; oidc-provider publishes only their public parts at /jwks. */
  jwks: { keys: JWK[] };
  /** Cookie signing secrets, newest first (keygrip signs with the first, accepts all). */
  cookieKeys: string[];
}

/** Any fixed 64-bit number: the lock serialises key creation between processes starting together. */
const KEY_BOOTSTRAP_LOCK = 0x646f6f726d616e; // "doorman"

/**
 * Loads the deployment's keys, creating them on the very first start. They live in the
 * database so every Doorman process of one deployment signs and verifies with the same
 * keys. Private key material never leaves this module except to oidc-provider.
 */
export async function loadOrCreateKeys(db: Db): Promise<ProviderKeys> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_BOOTSTRAP_LOCK}::bigint)`;
    let signing = await tx.signingKey.findMany({ orderBy: { createdAt: 'desc' } });
    if (signing.length === 0) {
      const jwk = await generateSigningJwk();
      signing = [await tx.signingKey.create({ data: { kid: jwk.kid!, jwk: jwk as Prisma.InputJsonObject } })];
    }
    let cookies = await tx.cookieSecret.findMany({ orderBy: { createdAt: 'desc' } });
    if (cookies.length === 0) {
      cookies = [await tx.cookieSecret.create({ data: { secret: randomBytes(32).toString('base64url') } })];
    }
    return { jwks: { keys: signing.map((k) => k.jwk as JWK) }, cookieKeys: cookies.map((c) => c.secret) };
  });
}

async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: 'RS256', use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}
