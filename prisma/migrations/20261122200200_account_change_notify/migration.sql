-- Every process caches account claims for a few seconds (src/accounts/profile-cache.ts).
-- These triggers tell every process, through NOTIFY at commit, which account changed, so
-- a disable, merge, unlink or link is seen at once by all of them, whichever code (admin
-- API, console, CLI, sign-in) made it. Payload: '<schema>:<account id>' (channels are
-- per database; the schema keeps installations that share one database apart).
CREATE FUNCTION doorman_notify_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'Account' THEN
    PERFORM pg_notify('doorman_account_changed', TG_TABLE_SCHEMA || ':' || OLD.id);
  ELSE
    IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('doorman_account_changed', TG_TABLE_SCHEMA || ':' || OLD."accountId"); END IF;
    IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('doorman_account_changed', TG_TABLE_SCHEMA || ':' || NEW."accountId"); END IF;
  END IF;
  RETURN NULL;
END $$;

-- Any change to an account row (disabled, retired by a merge, primary email, ...).
CREATE TRIGGER "Account_changed" AFTER UPDATE ON "Account"
  FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION doorman_notify_account_changed();
CREATE TRIGGER "Account_deleted" AFTER DELETE ON "Account"
  FOR EACH ROW EXECUTE FUNCTION doorman_notify_account_changed();

-- Identities linked, unlinked, moved, or changed in what claims are made of (profile.ts);
-- a sign-in that changes none of it (the common case: lastLoginAt, raw upstream claims)
-- notifies nobody.
CREATE TRIGGER "Identity_linked" AFTER INSERT OR DELETE ON "Identity"
  FOR EACH ROW EXECUTE FUNCTION doorman_notify_account_changed();
CREATE TRIGGER "Identity_changed" AFTER UPDATE ON "Identity"
  FOR EACH ROW WHEN (
    (OLD."accountId", OLD.email, OLD."emailCanonical", OLD."emailVerified", OLD."createdAt",
      OLD.profile->'name', OLD.profile->'picture', OLD.profile->'username', OLD.profile->'groups')
    IS DISTINCT FROM
    (NEW."accountId", NEW.email, NEW."emailCanonical", NEW."emailVerified", NEW."createdAt",
      NEW.profile->'name', NEW.profile->'picture', NEW.profile->'username', NEW.profile->'groups'))
  EXECUTE FUNCTION doorman_notify_account_changed();
