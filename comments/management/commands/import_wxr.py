"""``manage.py import_wxr FILE [FILE…]``: bring WordPress exports in (see docs/import.md)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError

from comments.wxr import WXRError, import_wxr
from comments.wxr.common import progress_bar
from comments.wxr.mapping import section_preferences


class Command(BaseCommand):
    help = (
        "Import WordPress eXtended RSS (WXR) exports: authors, posts and their threaded "
        "comments. Each file is imported in one transaction; importing again updates in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="WXR export files")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and check everything, print the summary, write nothing.",
        )
        parser.add_argument(
            "--with-pingbacks",
            action="store_true",
            help="Import pingbacks and trackbacks as comments (skipped by default).",
        )
        parser.add_argument(
            "--time-zone",
            metavar="ZONE",
            help="The WordPress site's time zone (e.g. Europe/Paris), used for dates the "
            "export only gives in local time. Default: TIME_ZONE.",
        )

        parser.add_argument(
            "--site",
            metavar="NAME",
            help="The site's name in import keys (e.g. blog.example.com), instead of the "
            "export's URL; needed to match files without one. Default: the export's URL, "
            "else the file's name and title.",
        )

        parser.add_argument(
            "--section-from",
            metavar="SLUGS",
            help="Category slugs (WordPress nicenames), comma-separated, in order of "
            "preference: an article's section is the first of them it has, else its first "
            "category (e.g. --section-from news,opinion,sport). Default: the first category.",
        )

    def handle(
        self, *args, files, dry_run, with_pingbacks, time_zone, site, section_from, **options
    ):
        tz = None
        if time_zone:
            try:
                tz = ZoneInfo(time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise CommandError(f"Unknown time zone {time_zone!r}.") from None
        if site is not None and not site.strip():
            raise CommandError("--site needs a name, e.g. --site blog.example.com.")
        prefer = ()
        if section_from is not None:
            try:
                prefer = section_preferences(section_from)
            except ValueError:
                raise CommandError(
                    "--section-from needs category slugs, e.g. --section-from news,opinion."
                ) from None
        failed = []
        for path in files:
            try:
                # Opened here, not by import_wxr: a missing file, a directory or one we
                # may not read gets the same one-line answer.
                fileobj = open(path, "rb")  # noqa: SIM115 (closed below)
            except OSError as error:
                self.stderr.write(f"{path}: can't read it ({error.strerror or error}).")
                failed.append(path)
                continue
            with (
                fileobj,
                progress_bar(fileobj, path) as bar,
            ):
                try:
                    report = import_wxr(
                        fileobj,
                        dry_run=dry_run,
                        with_pingbacks=with_pingbacks,
                        time_zone=tz,
                        site=site,
                        section_from=prefer,
                        on_progress=bar.update,
                    )
                except WXRError as error:
                    bar.close()
                    self.stderr.write(f"{path}: {error}. Nothing was imported from this file.")
                    failed.append(path)
                    continue
            self.stdout.write("\n".join(report.lines()))
        if failed:
            raise CommandError(f"{len(failed)} of {len(files)} files could not be imported.")
