from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_counsellor_profile"),
    ]

    operations = [
        migrations.CreateModel(
            name="UsedToken",
            fields=[
                ("marker", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("expires_hour", models.DateTimeField(db_index=True)),
            ],
        ),
    ]
