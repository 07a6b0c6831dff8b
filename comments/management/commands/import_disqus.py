"""``manage.py import_disqus FILE [--url-map CSV] [--dry-run]``: bring a Disqus export in
(see docs/import.md, "Disqus")."""

from django.core.management.base import BaseCommand, CommandError

from comments.disqus import DisqusError, import_disqus, read_url_map
from comments.wxr.common import progress_bar


class Command(BaseCommand):
    help = (
        "Import a Disqus XML export: comments matched to articles by their thread's URL path, "
        "with threading, statuses, dates and authors. Importing again updates in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="Disqus XML export")
        parser.add_argument(
            "--url-map",
            metavar="CSV",
            help="CSV of “old path,new path” rows for pages whose address changed.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and check everything, print the summary, write nothing.",
        )

    def handle(self, *args, file, url_map, dry_run, **options):
        paths = {}
        if url_map:
            try:
                with open(url_map, encoding="utf-8-sig", newline="") as csv_file:
                    paths = read_url_map(csv_file)
            except OSError as error:
                raise CommandError(
                    f"{url_map}: can't read it ({error.strerror or error})."
                ) from None
            except (DisqusError, UnicodeDecodeError, ValueError) as error:
                raise CommandError(f"{url_map}: {error}.") from None
        try:
            fileobj = open(file, "rb")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise CommandError(f"{file}: can't read it ({error.strerror or error}).") from None
        with (
            fileobj,
            progress_bar(fileobj, file) as bar,
        ):
            try:
                report = import_disqus(
                    fileobj, url_map=paths, dry_run=dry_run, on_progress=bar.update
                )
            except DisqusError as error:
                bar.close()
                raise CommandError(f"{file}: {error}. Nothing was imported.") from None
        self.stdout.write("\n".join(report.lines()))
