-- AlterTable
ALTER TABLE "Account" ADD COLUMN     "admin" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "mergedIntoId" TEXT,
ADD COLUMN     "retiredAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "AuditEvent" ADD COLUMN     "actor" TEXT;

-- AlterTable
ALTER TABLE "OidcModel" ADD COLUMN     "accountId" TEXT;

-- AlterTable
ALTER TABLE "UpstreamTransaction" ADD COLUMN     "accountId" TEXT,
ADD COLUMN     "pendingLinkId" TEXT,
ADD COLUMN     "purpose" TEXT NOT NULL DEFAULT 'login',
ALTER COLUMN "interactionUid" DROP NOT NULL;

-- CreateTable
CREATE TABLE "PendingLink" (
    "id" TEXT NOT NULL,
    "interactionUid" TEXT NOT NULL,
    "identity" JSONB NOT NULL,
    "candidates" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PendingLink_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PendingLink_interactionUid_idx" ON "PendingLink"("interactionUid");

-- CreateIndex
CREATE INDEX "PendingLink_expiresAt_idx" ON "PendingLink"("expiresAt");

-- CreateIndex
CREATE INDEX "OidcModel_accountId_idx" ON "OidcModel"("accountId");
