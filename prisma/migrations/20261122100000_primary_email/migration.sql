-- Emails are compared only in canonical form (src/accounts/email.ts), and an account has
-- a primary email instead of following its last-used identity.

-- AlterTable
ALTER TABLE "Account" ADD COLUMN     "email" TEXT;

-- AlterTable
ALTER TABLE "Identity" ADD COLUMN     "emailCanonical" TEXT;

-- DropIndex
DROP INDEX "Identity_email_idx";

-- CreateIndex
CREATE INDEX "Identity_emailCanonical_idx" ON "Identity"("emailCanonical");

-- Stored emails were lowercased by JavaScript, so a non-ASCII one may already be mangled:
-- only plain ASCII addresses get a canonical form now; the others get theirs from the
-- upstream's own value at their next sign-in.
UPDATE "Identity" SET "emailCanonical" = email
WHERE email ~ '^[a-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$'
  AND length(email) <= 254 AND position('@' in email) <= 65;

-- The primary email: the first address one of its identities verified.
UPDATE "Account" a SET email = (
  SELECT i."emailCanonical" FROM "Identity" i
  WHERE i."accountId" = a.id AND i."emailVerified" AND i."emailCanonical" IS NOT NULL
  ORDER BY i."createdAt", i.id LIMIT 1);
