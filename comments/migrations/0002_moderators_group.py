"""The Moderators group: work the comment queue, read articles, nothing else."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Moderators"

# (app_label, codename): view and change comments, view their reports and revisions,
# view articles. No delete, no add, nothing on articles, users or groups.
PERMISSIONS = [
    ("comments", "view_comment"),
    ("comments", "change_comment"),
    ("comments", "view_commentreport"),
    ("comments", "view_commentrevision"),
    ("articles", "view_article"),
]


def create_moderators_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate);
    # create them now so the group can be given them on a fresh database.
    for app_label in ("comments", "articles"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.get_or_create(name=GROUP_NAME)
    permissions = [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in PERMISSIONS
    ]
    group.permissions.set(permissions)


def delete_moderators_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("articles", "0001_initial"),
        ("comments", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_moderators_group, delete_moderators_group)]
