from django.db import migrations

# A snapshot is inserted, its rows copied in, then sealed by one UPDATE that sets sha256.
# After that neither the snapshot nor any of its rows may change.
FORBID_UPDATE = """
CREATE OR REPLACE FUNCTION curation_snapshot_sealed() RETURNS trigger AS $$
BEGIN
    IF OLD.sha256 <> '' THEN
        RAISE EXCEPTION 'a frozen dataset snapshot never changes (snapshot %)', OLD.id;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER curation_snapshot_sealed BEFORE UPDATE ON curation_datasetsnapshot
    FOR EACH ROW EXECUTE FUNCTION curation_snapshot_sealed();

CREATE OR REPLACE FUNCTION curation_snapshotrow_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a snapshot row never changes (snapshot %, position %)', OLD.snapshot_id, OLD.position;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER curation_snapshotrow_immutable BEFORE UPDATE ON curation_snapshotrow
    FOR EACH ROW EXECUTE FUNCTION curation_snapshotrow_immutable();
"""

ALLOW_UPDATE = """
DROP TRIGGER IF EXISTS curation_snapshot_sealed ON curation_datasetsnapshot;
DROP FUNCTION IF EXISTS curation_snapshot_sealed();
DROP TRIGGER IF EXISTS curation_snapshotrow_immutable ON curation_snapshotrow;
DROP FUNCTION IF EXISTS curation_snapshotrow_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("curation", "0001_initial")]
    operations = [migrations.RunSQL(FORBID_UPDATE, ALLOW_UPDATE)]
