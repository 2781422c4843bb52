-- CreateTable
CREATE TABLE "UpstreamToken" (
    "identityId" TEXT NOT NULL,
    "keyId" TEXT NOT NULL,
    "sealed" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "accessExpiresAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UpstreamToken_pkey" PRIMARY KEY ("identityId")
);

-- CreateIndex
CREATE INDEX "UpstreamToken_keyId_idx" ON "UpstreamToken"("keyId");

-- AddForeignKey
ALTER TABLE "UpstreamToken" ADD CONSTRAINT "UpstreamToken_identityId_fkey" FOREIGN KEY ("identityId") REFERENCES "Identity"("id") ON DELETE CASCADE ON UPDATE CASCADE;
