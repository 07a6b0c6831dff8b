"""Queue the daily digests of followed discussions (comments.follows.send_digests).

Run it once a day from cron or a systemd timer (docs/readers.md, "Following a
discussion"). Running it again the same day sends nothing twice.
"""

from django.core.management.base import BaseCommand

from comments import follows


class Command(BaseCommand):
    help = "Queue today's daily digests of followed discussions (safe to run again)."

    def handle(self, *args, **options):
        count = follows.send_digests()
        self.stdout.write(f"{count} digest(s) queued.")
