"""``manage.py export_wxr [--article SLUG …] [--no-personal-data] OUTPUT``: a WordPress
eXtended RSS (WXR 1.2) file of the articles, their authors and comments (docs/import.md)."""

import contextlib
import os

from django.core.management.base import BaseCommand, CommandError

from comments.wxr.export import UnknownArticles, export_wxr


class Command(BaseCommand):
    help = (
        "Export articles, their authors and threaded comments as a WordPress eXtended RSS "
        "(WXR 1.2) file, which WordPress, threadpress (import_wxr) and others import."
    )

    def add_arguments(self, parser):
        parser.add_argument("output", metavar="OUTPUT", help="The file to write.")
        parser.add_argument(
            "--article",
            action="append",
            dest="slugs",
            metavar="SLUG",
            help="Export only this article (repeatable). Default: every article.",
        )
        parser.add_argument(
            "--no-personal-data",
            action="store_true",
            help="Leave out email addresses and IP addresses.",
        )

    def handle(self, *args, output, slugs, no_personal_data, **options):
        partial = f"{output}.partial"
        try:
            with open(partial, "wb") as out:
                report = export_wxr(out, slugs=slugs, personal_data=not no_personal_data)
            os.replace(partial, output)
        except UnknownArticles as error:
            _remove(partial)
            which = "the slug" if len(error.slugs) == 1 else "the slugs"
            raise CommandError(f"No article with {which} {', '.join(error.slugs)}.") from None
        except OSError as error:
            _remove(partial)
            raise CommandError(f"{output}: can't write it ({error.strerror or error}).") from None
        except BaseException:
            _remove(partial)
            raise
        self.stdout.write(
            f"{output}: {report.articles} articles, {report.comments} comments, "
            f"{report.authors} authors, {report.sections} sections, {report.tags} tags."
        )


def _remove(path):
    with contextlib.suppress(OSError):
        os.remove(path)
