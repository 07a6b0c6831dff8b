# A reader's own data (issue 15): the erasure requests (comments.privacy), which the
# Moderators group may view (that an erasure happened, never what it erased).
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

GROUP_NAME = "Moderators"
PERMISSIONS = [("comments", "view_erasurerequest")]


def _permissions(apps):
    app_config = apps.get_app_config("comments")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in PERMISSIONS
    ]


def grant(apps, schema_editor):
    group, _created = apps.get_model("auth", "Group").objects.get_or_create(name=GROUP_NAME)
    group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("comments", "0010_follows"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ErasureRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.EmailField(blank=True, max_length=254, verbose_name="email")),
                (
                    "requested_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="requested at"
                    ),
                ),
                (
                    "confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="confirmed at"),
                ),
                (
                    "execute_after",
                    models.DateTimeField(blank=True, null=True, verbose_name="carried out after"),
                ),
                (
                    "cancelled_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="cancelled at"),
                ),
                (
                    "completed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="completed at"),
                ),
                (
                    "comments_erased",
                    models.PositiveIntegerField(default=0, verbose_name="comments erased"),
                ),
                (
                    "rows_cleared",
                    models.PositiveIntegerField(
                        default=0,
                        help_text=(
                            "Reports, reactions, follows, revisions, log entries and records "
                            "changed."
                        ),
                        verbose_name="other rows cleared",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="account",
                    ),
                ),
            ],
            options={
                "verbose_name": "erasure request",
                "verbose_name_plural": "erasure requests",
                "ordering": ["-requested_at", "-pk"],
                "indexes": [
                    models.Index(fields=["completed_at", "execute_after"], name="erasure_due_idx")
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
