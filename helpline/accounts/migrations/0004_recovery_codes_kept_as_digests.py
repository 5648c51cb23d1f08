"""Recovery codes kept as digests: the proxy model that checks them, and the codes already issued (kept in
clear by django-otp) replaced by their digests, so they keep working and stop being readable."""

from typing import Any

from django.db import migrations


def keep_digests_only(apps: Any, schema_editor: Any) -> None:
    from helpline.accounts.seeds import is_recovery_code_digest, recovery_code_digest

    static_token = apps.get_model("otp_static", "StaticToken")
    for token in static_token.objects.select_related("device"):
        if not is_recovery_code_digest(token.token):
            token.token = recovery_code_digest(token.token, token.device.user_id)
            token.save(update_fields=["token"])


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_sealed_seeds_and_hashed_sessions"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecoveryCodes",
            fields=[],
            options={
                "verbose_name": "recovery codes",
                "verbose_name_plural": "recovery codes",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("otp_static.staticdevice",),
        ),
        # Back again the digests stay: a code cannot be had from its digest, and they still verify.
        migrations.RunPython(keep_digests_only, migrations.RunPython.noop),
    ]
