from django.db import migrations

FORBID_UPDATE = """
CREATE OR REPLACE FUNCTION guidelines_version_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a published guideline version never changes (version %)', OLD.number;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER guidelines_version_immutable BEFORE UPDATE ON guidelines_guidelineversion
    FOR EACH ROW EXECUTE FUNCTION guidelines_version_immutable();
"""

ALLOW_UPDATE = """
DROP TRIGGER IF EXISTS guidelines_version_immutable ON guidelines_guidelineversion;
DROP FUNCTION IF EXISTS guidelines_version_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("guidelines", "0001_initial")]
    operations = [migrations.RunSQL(FORBID_UPDATE, ALLOW_UPDATE)]
