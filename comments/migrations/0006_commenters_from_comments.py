"""Every email address that has commented becomes a commenter, with its counts.

Addresses are grouped as ``comments.models.normalize_email`` spells them (trimmed,
case-folded), so one person's "Ann@Example.com" and "ann@example.com" are one
commenter. The counts and the recent rejection rate follow ``comments.commenters``
as it was when this was written: a comment counts as moderated when a person decided
on it (``moderated_by``), and as rejected when that decision was spam or removal.
"""

from django.db import migrations

RECENT = 10
REJECTED = {"spam", "removed"}


def normalize_email(email):
    return (email or "").strip().casefold()


def create_commenters(apps, schema_editor):
    Comment = apps.get_model("comments", "Comment")
    Commenter = apps.get_model("comments", "Commenter")
    people = {}
    rows = Comment.objects.order_by("created_at", "pk").values_list(
        "pk", "author_email", "author_name", "user_id", "status", "created_at",
        "moderated_at", "moderated_by_id",
    )  # fmt: skip
    for pk, email, name, user_id, status, created_at, moderated_at, moderated_by in rows.iterator(
        chunk_size=5000
    ):
        person = people.setdefault(
            normalize_email(email),
            {"ids": [], "first": created_at, "counts": {}, "decisions": [], "user": None},
        )
        person["ids"].append(pk)
        person["last"] = created_at
        person["name"] = name
        person["user"] = user_id or person["user"]
        person["counts"][status] = person["counts"].get(status, 0) + 1
        if moderated_by is not None and moderated_at is not None:
            person["decisions"].append((moderated_at, status))
    for email, person in people.items():
        decisions = sorted(person["decisions"], key=lambda decision: decision[0])
        recent = decisions[-RECENT:]
        rejected_at = [at for at, status in decisions if status in REJECTED]
        counts = person["counts"]
        commenter = Commenter.objects.create(
            email=email,
            name=person["name"],
            user_id=person["user"],
            first_seen=person["first"],
            last_seen=person["last"],
            approved_count=counts.get("approved", 0),
            pending_count=counts.get("pending", 0),
            spam_count=counts.get("spam", 0),
            removed_count=counts.get("removed", 0),
            recent_rejection_rate=(
                sum(status in REJECTED for _at, status in recent) / len(recent) if recent else 0.0
            ),
            last_rejected_at=max(rejected_at) if rejected_at else None,
        )
        ids = person["ids"]
        for start in range(0, len(ids), 500):
            Comment.objects.filter(pk__in=ids[start : start + 500]).update(
                commenter_id=commenter.pk
            )


def forget_commenters(apps, schema_editor):
    apps.get_model("comments", "Comment").objects.update(commenter=None)
    apps.get_model("comments", "Commenter").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("comments", "0005_moderation_desk")]

    operations = [migrations.RunPython(create_commenters, forget_commenters)]
