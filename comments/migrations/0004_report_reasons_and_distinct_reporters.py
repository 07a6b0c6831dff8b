"""Reports get a reason, the reporter's network and identity, and whether they counted.

Existing reports have no reason (left empty). Their network is worked out from the
stored IP address, and ``counted`` by the rule new reports follow: the first report
from each session or network since the last moderator decision on the comment.
"""

import ipaddress

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _network(ip_address):
    # A copy of comments.reports.reporter_network as it was when this was written.
    if not ip_address:
        return ""
    try:
        address = ipaddress.ip_address(ip_address)
    except ValueError:
        return ""
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def fill_existing_reports(apps, schema_editor):
    CommentReport = apps.get_model("comments", "CommentReport")
    Comment = apps.get_model("comments", "Comment")
    decided_at = dict(
        Comment.objects.filter(reports__isnull=False, moderated_by__isnull=False)
        .exclude(moderated_at=None)
        .values_list("pk", "moderated_at")
        .distinct()
    )
    seen = {}  # (comment id, before or after the last decision) -> sessions and networks
    changed = []
    for report in CommentReport.objects.order_by("comment_id", "created_at", "pk").iterator():
        decision = decided_at.get(report.comment_id)
        epoch = (report.comment_id, decision is not None and report.created_at > decision)
        sessions, networks = seen.setdefault(epoch, (set(), set()))
        report.network = _network(report.ip_address)
        report.counted = report.session_key not in sessions and (
            not report.network or report.network not in networks
        )
        sessions.add(report.session_key)
        if report.network:
            networks.add(report.network)
        changed.append(report)
        if len(changed) >= 1000:
            CommentReport.objects.bulk_update(changed, ["network", "counted"])
            changed = []
    if changed:
        CommentReport.objects.bulk_update(changed, ["network", "counted"])


class Migration(migrations.Migration):
    dependencies = [
        ("comments", "0003_duplicate_rule_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="commentreport",
            name="reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("spam", "Spam"),
                    ("abuse", "Abuse or harassment"),
                    ("off_topic", "Off-topic"),
                    ("personal_data", "Personal data"),
                    ("illegal", "Illegal content"),
                ],
                help_text="Empty for reports made before readers were asked for a reason.",
                max_length=20,
                verbose_name="reason",
            ),
        ),
        migrations.AddField(
            model_name="commentreport",
            name="explanation",
            field=models.TextField(blank=True, max_length=2000, verbose_name="explanation"),
        ),
        migrations.AddField(
            model_name="commentreport",
            name="network",
            field=models.CharField(
                blank=True,
                help_text="The IPv4 /24 or IPv6 /64 the report came from; one network counts once.",
                max_length=43,
                verbose_name="reporter network",
            ),
        ),
        migrations.AddField(
            model_name="commentreport",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="reporter account",
            ),
        ),
        migrations.AddField(
            model_name="commentreport",
            name="reporter_email",
            field=models.EmailField(
                blank=True,
                help_text="Optionally given by a reader who is not logged in; shown to staff only.",
                max_length=254,
                verbose_name="reporter email",
            ),
        ),
        migrations.AddField(
            model_name="commentreport",
            name="counted",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Whether it counted towards the threshold: the first report from this "
                    "reader since the last moderator decision."
                ),
                verbose_name="counted",
            ),
        ),
        migrations.AddConstraint(
            model_name="commentreport",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reason__in", ["", "spam", "abuse", "off_topic", "personal_data", "illegal"])
                ),
                name="report_reason_valid",
            ),
        ),
        migrations.RunPython(fill_existing_reports, migrations.RunPython.noop),
    ]
