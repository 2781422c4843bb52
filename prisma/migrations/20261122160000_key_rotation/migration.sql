-- Keys get a place in the rotation (src/keys). The newest existing key of each kind stays
-- current, active since it was made; any older ones become previous and retire on schedule.
ALTER TABLE "SigningKey" ADD COLUMN "alg" TEXT NOT NULL DEFAULT 'RS256';
ALTER TABLE "SigningKey" ADD COLUMN "state" TEXT NOT NULL DEFAULT 'current';
ALTER TABLE "SigningKey" ADD COLUMN "activatedAt" TIMESTAMP(3);
ALTER TABLE "SigningKey" ADD COLUMN "deactivatedAt" TIMESTAMP(3);
UPDATE "SigningKey" SET "alg" = COALESCE("jwk"->>'alg', 'RS256'), "activatedAt" = "createdAt";
UPDATE "SigningKey" SET "state" = 'previous', "deactivatedAt" = CURRENT_TIMESTAMP
  WHERE "kid" <> (SELECT "kid" FROM "SigningKey" ORDER BY "createdAt" DESC LIMIT 1);

ALTER TABLE "CookieSecret" ADD COLUMN "state" TEXT NOT NULL DEFAULT 'current';
ALTER TABLE "CookieSecret" ADD COLUMN "activatedAt" TIMESTAMP(3);
ALTER TABLE "CookieSecret" ADD COLUMN "deactivatedAt" TIMESTAMP(3);
UPDATE "CookieSecret" SET "activatedAt" = "createdAt";
UPDATE "CookieSecret" SET "state" = 'previous', "deactivatedAt" = CURRENT_TIMESTAMP
  WHERE "id" <> (SELECT "id" FROM "CookieSecret" ORDER BY "createdAt" DESC LIMIT 1);
