"""Verify (and with --repair, rebuild) the comment trees' MPTT invariants; --repair also
re-renders comment bodies whose stored HTML is out of date."""

import sys

from django.core.management.base import BaseCommand

from comments.integrity import check_trees, count_stale_bodies, repair_trees, rerender_bodies


class Command(BaseCommand):
    help = (
        "Check every comment tree's nested-set invariants (lft/rght nesting, level = depth, "
        "tree id shared with the parent, parent on the same article, one root per tree id). "
        "Exits with status 1 listing the broken trees; --repair rebuilds them from the "
        "parent links and reports what changed, and re-renders comment bodies whose stored "
        "HTML differs from what the current renderer gives."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair",
            action="store_true",
            help="Rebuild the broken trees from their parent links and re-render stale bodies.",
        )

    def handle(self, *args, repair=False, **options):
        self.check_bodies(repair=repair)
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

    def check_bodies(self, *, repair):
        """Stale rendered bodies are not a broken tree: reported, re-rendered on --repair,
        never a failing exit status."""
        if repair:
            updated = rerender_bodies()
            if updated:
                self.stdout.write(
                    f"Re-rendered {len(updated)} comment(s) whose stored HTML was out of date."
                )
            return
        stale = count_stale_bodies()
        if stale:
            self.stdout.write(
                f"{stale} comment(s) have stored HTML from an older renderer; "
                "`manage.py comments_check --repair` re-renders them."
            )
