-- Apps (OIDC clients) managed at runtime (src/clients).
-- CreateTable
CREATE TABLE "OidcClient" (
    "clientId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "redirectUris" TEXT[] NOT NULL,
    "postLogoutRedirectUris" TEXT[] NOT NULL,
    "firstParty" BOOLEAN NOT NULL DEFAULT false,
    "grantTypes" TEXT[] NOT NULL,
    "upstreams" TEXT[] NOT NULL,
    "allowSignup" BOOLEAN NOT NULL DEFAULT true,
    "pkce" TEXT NOT NULL DEFAULT 'required',
    "secretHash" TEXT,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "version" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OidcClient_pkey" PRIMARY KEY ("clientId")
);
