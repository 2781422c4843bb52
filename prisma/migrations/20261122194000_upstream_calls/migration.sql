-- The console's Upstreams page: one row per upstream call on the login path (src/upstream-activity).
-- CreateTable
CREATE TABLE "UpstreamCall" (
    "id" BIGSERIAL NOT NULL,
    "upstream" TEXT NOT NULL,
    "stage" TEXT NOT NULL,
    "ok" BOOLEAN NOT NULL,
    "kind" TEXT,
    "error" TEXT,
    "latencyMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UpstreamCall_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "UpstreamCall_createdAt_upstream_stage_ok_kind_latencyMs_idx" ON "UpstreamCall"("createdAt", "upstream", "stage", "ok", "kind", "latencyMs");

-- CreateIndex
CREATE INDEX "UpstreamCall_upstream_ok_createdAt_idx" ON "UpstreamCall"("upstream", "ok", "createdAt");
