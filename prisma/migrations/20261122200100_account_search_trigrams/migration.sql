-- The admin search (src/accounts/search.ts) finds accounts by any part of an email or name:
-- LIKE/ILIKE '%...%', which a b-tree cannot serve. pg_trgm's GIN indexes can. The extension
-- lives in "public" (as on an ordinary server), and the operator class is named with its
-- schema, so Doorman's own schema may be any (DATABASE_URL ?schema=...). pg_trgm is a
-- trusted extension (PostgreSQL 13+): the database owner may create it without superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- CreateIndex
CREATE INDEX "Account_email_trgm_idx" ON "Account" USING GIN ("email" public.gin_trgm_ops);
CREATE INDEX "Identity_emailCanonical_trgm_idx" ON "Identity" USING GIN ("emailCanonical" public.gin_trgm_ops);
CREATE INDEX "Identity_email_trgm_idx" ON "Identity" USING GIN ("email" public.gin_trgm_ops);
-- The name is inside the profile (JSON): an expression index, which schema.prisma cannot describe.
CREATE INDEX "Identity_profile_name_trgm_idx" ON "Identity" USING GIN (("profile"->>'name') public.gin_trgm_ops);

-- The account list is newest first, paged by (createdAt, id).
CREATE INDEX "Account_createdAt_id_idx" ON "Account"("createdAt", "id");
