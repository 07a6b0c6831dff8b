# Following a discussion (issue 15): Follow and DigestSent.
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0002_discussion_settings"),
        ("comments", "0009_readers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Follow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.EmailField(max_length=254, verbose_name="email address")),
                (
                    "scope",
                    models.CharField(
                        choices=[("all", "All new comments"), ("replies", "Only replies to me")],
                        default="all",
                        max_length=10,
                        verbose_name="follows",
                    ),
                ),
                (
                    "delivery",
                    models.CharField(
                        choices=[("instant", "Instantly"), ("daily", "Daily digest")],
                        default="instant",
                        max_length=10,
                        verbose_name="delivery",
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="followed at"
                    ),
                ),
                (
                    "confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="confirmed at"),
                ),
                (
                    "article",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="articles.article",
                        verbose_name="article",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="reader",
                    ),
                ),
            ],
            options={
                "verbose_name": "follow",
                "verbose_name_plural": "follows",
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="DigestSent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(verbose_name="day")),
                (
                    "comment_count",
                    models.PositiveIntegerField(default=0, verbose_name="comments"),
                ),
                (
                    "sent_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="sent at"),
                ),
                (
                    "follow",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="digests",
                        to="comments.follow",
                        verbose_name="follow",
                    ),
                ),
            ],
            options={"verbose_name": "digest sent", "verbose_name_plural": "digests sent"},
        ),
        migrations.AddConstraint(
            model_name="follow",
            constraint=models.UniqueConstraint(
                fields=("article", "email"), name="follow_once_per_address"
            ),
        ),
        migrations.AddConstraint(
            model_name="digestsent",
            constraint=models.UniqueConstraint(
                fields=("follow", "day"), name="digest_once_per_day"
            ),
        ),
        migrations.CreateModel(
            name="ReplyFeedKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=64, unique=True, verbose_name="key")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="created at"
                    ),
                ),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="reader",
                    ),
                ),
            ],
            options={"verbose_name": "reply feed key", "verbose_name_plural": "reply feed keys"},
        ),
    ]
