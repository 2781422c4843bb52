-- Rate-limit counters (src/rate-limits/limiters.ts): the table rate-limiter-flexible's
-- RateLimiterPostgres would create itself, made here so migrations stay the one source.
CREATE TABLE "RateLimit" (
    "key" TEXT NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "RateLimit_pkey" PRIMARY KEY ("key")
);

-- Its sweep deletes by expiry.
CREATE INDEX "RateLimit_expire_idx" ON "RateLimit"("expire");
