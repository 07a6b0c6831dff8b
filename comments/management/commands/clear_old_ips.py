"""Clear the IP addresses and user agents older than COMMENTS_IP_RETENTION_DAYS (run it
daily; see docs/privacy.md)."""

from django.core.management.base import BaseCommand

from comments.conf import conf
from comments.privacy import clear_old_ips


class Command(BaseCommand):
    help = (
        "Clear the IP addresses and user agents stored with comments, and the addresses "
        "and networks stored with reports and anonymous reactions, once they are older "
        "than COMMENTS_IP_RETENTION_DAYS (default 90; 0 keeps them). Safe to run again: "
        "a cleared row is not touched twice. Schedule it daily (cron or a systemd timer)."
    )

    def handle(self, *args, **options):
        if not conf.IP_RETENTION_DAYS:
            self.stdout.write("COMMENTS_IP_RETENTION_DAYS is 0: addresses are kept.")
            return
        cleared = clear_old_ips()
        self.stdout.write(
            self.style.SUCCESS(
                f"Cleared addresses older than {conf.IP_RETENTION_DAYS} days: "
                f"{cleared.comments} comment(s), {cleared.reports} report(s), "
                f"{cleared.reactions} reaction(s)."
            )
        )
