-- Back-channel logout deliveries waiting to be sent (src/logout).
-- CreateTable
CREATE TABLE "BackchannelLogout" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "sid" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BackchannelLogout_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "BackchannelLogout_nextAttemptAt_idx" ON "BackchannelLogout"("nextAttemptAt");
