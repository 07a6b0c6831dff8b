"""The Moderators group works the whole desk: commenters and their notes, sanctions,
appeals, the word lists and each article's discussion settings (not the article)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Moderators"

PERMISSIONS = [
    ("comments", "view_commenter"),
    ("comments", "change_commenter"),
    ("comments", "view_commenternote"),
    ("comments", "add_commenternote"),
    ("comments", "view_sanction"),
    ("comments", "add_sanction"),
    ("comments", "change_sanction"),
    ("comments", "view_appeal"),
    ("comments", "change_appeal"),
    ("comments", "view_moderationword"),
    ("comments", "add_moderationword"),
    ("comments", "change_moderationword"),
    ("comments", "delete_moderationword"),
    ("articles", "change_discussion"),
]


def _permissions(apps):
    for app_label in ("comments", "articles"):
        app_config = apps.get_app_config(app_label)
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
        ("articles", "0002_discussion_settings"),
        ("comments", "0006_commenters_from_comments"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
