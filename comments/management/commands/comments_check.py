"""Verify (and with --repair, rebuild) the comment trees' MPTT invariants."""

import sys

from django.core.management.base import BaseCommand

from comments.integrity import check_trees, repair_trees


class Command(BaseCommand):
    help = (
        "Check every comment tree's nested-set invariants (lft/rght nesting, level = depth, "
        "tree id shared with the parent, parent on the same article, one root per tree id). "
        "Exits with status 1 listing the broken trees; --repair rebuilds them from the "
        "parent links and reports what changed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair",
            action="store_true",
            help="Rebuild the broken trees from their parent links.",
        )

    def handle(self, *args, repair=False, **options):
        report = repair_trees() if repair else check_trees()
        summary = f"Checked {report.comments} comments in {report.trees} trees"
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"{summary}: all trees are consistent."))
            return
        self.stderr.write(f"{summary}: {len(report.problems)} broken tree(s).")
        for problem in report.problems:
            self.stderr.write(f"  {problem}")
        if not repair:
            self.stderr.write("Run `manage.py comments_check --repair` to rebuild them.")
            sys.exit(1)
        self.stdout.write(f"Repaired: updated {len(report.changed)} comment(s).")
        for pk, (old, new) in sorted(report.changed.items()):
            self.stdout.write(
                f"  comment #{pk}: tree/lft/rght/level {'/'.join(map(str, old))} -> "
                f"{'/'.join(map(str, new))}"
            )
        unrepairable = [p for p in report.problems if not p.repairable]
        if unrepairable:
            self.stderr.write(
                f"{len(unrepairable)} tree(s) need a manual fix (see above); exiting with 1."
            )
            sys.exit(1)
