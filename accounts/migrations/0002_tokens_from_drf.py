"""Every DRF token (one per user, its key in clear) becomes a named token "default" with the same key.

The key keeps working until it is revoked or the user's password changes; only its sha256 is kept,
and the DRF rows, which held the keys in clear, are deleted. Going back leaves the named tokens
where they are: the keys cannot be rebuilt from their hashes.
"""

import hashlib

from django.db import migrations


def _sha256(text: str) -> str:
    # The same digests as accounts.models.key_sha256 and password_fingerprint.
    return hashlib.sha256(text.encode()).hexdigest()


def tokens_from_drf(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("accounts", "ApiToken")
    ApiToken.objects.bulk_create(
        (
            ApiToken(
                user_id=token.user_id,
                name="default",
                key_sha256=_sha256(token.key),
                password_fingerprint=_sha256(token.user.password),
                created_at=token.created,
            )
            for token in Token.objects.select_related("user").iterator()
        ),
        batch_size=1000,
        ignore_conflicts=True,  # a key moved before (a re-run after going back) stays as it is
    )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(tokens_from_drf, migrations.RunPython.noop)]
