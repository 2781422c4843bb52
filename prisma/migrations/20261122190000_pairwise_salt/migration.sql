-- The secret salt of pairwise subject identifiers (src/claims/pairwise.ts): one row, made once.
-- CreateTable
CREATE TABLE "PairwiseSalt" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "salt" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PairwiseSalt_pkey" PRIMARY KEY ("id")
);
