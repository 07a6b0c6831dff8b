"""Carry out the confirmed erasures whose grace period has passed (run it hourly; see
docs/privacy.md)."""

from django.core.management.base import BaseCommand

from comments.privacy import run_erasures


class Command(BaseCommand):
    help = (
        "Carry out every confirmed, uncancelled erasure request whose 24-hour grace period "
        "has passed: the reader's comments become 'Comment deleted by its author.' "
        "placeholders and their name, email address, website, IP addresses and user agents "
        "are removed from every row. Safe to run again: a request is carried out once. "
        "Schedule it hourly (cron or a systemd timer)."
    )

    def handle(self, *args, **options):
        done = run_erasures()
        for erasure in done:
            self.stdout.write(
                f"Erasure request {erasure.pk}: {erasure.comments_erased} comment(s) erased, "
                f"{erasure.rows_cleared} other row(s) changed."
            )
        self.stdout.write(self.style.SUCCESS(f"Carried out {len(done)} erasure request(s)."))
