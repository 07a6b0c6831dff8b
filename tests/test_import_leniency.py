"""``import_wxr``'s WordPress-grade leniency (issue 17): files WordPress refuses are refused
the same way, files it imports are imported, and the comment HTML it allows is kept.

Every test writes its own small export with the builders of tests/test_import_wxr.py.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from articles.models import Article
from comments.models import Comment
from tests.test_import_wxr import comment, export, item

pytestmark = pytest.mark.django_db

NOT_WXR = "This does not appear to be a WXR file, missing/invalid WXR version number"
VERSION_TAG = "<wp:wxr_version>1.2</wp:wxr_version>"


def write(tmp_path, text, name="export.xml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_wxr", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- the WXR version ------------------------------------------------------------------
@pytest.mark.parametrize(
    "version_tag",
    [
        "",  # missing
        "<wp:wxr_version></wp:wxr_version>",
        "<wp:wxr_version>   </wp:wxr_version>",
        "<wp:wxr_version>one point two</wp:wxr_version>",
        "<wp:wxr_version>1.2beta</wp:wxr_version>",
        "<wp:wxr_version>12</wp:wxr_version>",
    ],
    ids=["missing", "empty", "blank", "words", "suffix", "no-dot"],
)
def test_missing_or_invalid_wxr_version_is_refused_and_writes_nothing(tmp_path, version_tag):
    text = export(item(5, comments=[comment(1)]))
    assert VERSION_TAG in text
    path = write(tmp_path, text.replace(VERSION_TAG, version_tag))
    users_before = get_user_model().objects.count()

    with pytest.raises(CommandError, match="1 of 1 files could not be imported"):
        out, err = StringIO(), StringIO()
        try:
            call_command("import_wxr", str(path), stdout=out, stderr=err)
        finally:
            assert f"{path}: {NOT_WXR}. Nothing was imported from this file." in err.getvalue()

    assert get_user_model().objects.count() == users_before  # not even the authors
    assert not Article.objects.exists()
    assert not Comment.objects.exists()


def test_wxr_version_after_the_records_is_accepted(tmp_path):
    text = export(item(5)).replace(VERSION_TAG, "")
    text = text.replace("</channel>", f"{VERSION_TAG}\n</channel>")
    run(write(tmp_path, text))

    assert Article.objects.count() == 1


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", " 1.2 "])
def test_valid_wxr_versions_are_accepted(tmp_path, version):
    text = export(item(5)).replace(VERSION_TAG, f"<wp:wxr_version>{version}</wp:wxr_version>")
    run(write(tmp_path, text))

    assert Article.objects.count() == 1
