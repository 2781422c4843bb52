-- The admin console searches identities by subject alone, and filters the audit log by type over time.
-- CreateIndex
CREATE INDEX "Identity_subject_idx" ON "Identity"("subject");

-- CreateIndex
CREATE INDEX "AuditEvent_type_createdAt_idx" ON "AuditEvent"("type", "createdAt");
