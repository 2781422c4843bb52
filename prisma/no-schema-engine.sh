#!/bin/sh
# Stand-in for Prisma's native schema engine, which cannot be downloaded on air-gapped
# machines. `prisma generate`, `validate` and `format` never run it; Doorman applies its
# own SQL migrations (src/db/migrate.ts). See README "Migrations".
echo "doorman: Prisma's schema engine is not used; migrations are applied by 'doorman migrate'" >&2
exit 1
