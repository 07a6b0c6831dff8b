"""`manage.py comments_check` finds broken comment trees and `--repair` rebuilds them."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F

from comments.integrity import check_trees
from comments.models import Comment

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("comments_check", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def thread(comment_factory, article):
    """root ─ a ─ a1, root ─ b; plus a second tree on the same article."""
    root = comment_factory(article=article)
    a = comment_factory(parent=root)
    a1 = comment_factory(parent=a)
    b = comment_factory(parent=root)
    other = comment_factory(article=article)
    comment_factory(parent=other)
    return {"root": root, "a": a, "a1": a1, "b": b, "other": other}


def move_other_tree_onto_roots_tree_id(thread):
    """Two roots with one tree id (boundaries shifted: PostgreSQL's unique (tree_id, lft)
    constraint would refuse the exact copy, which is the point of that constraint)."""
    Comment.objects.filter(tree_id=thread["other"].tree_id).update(
        tree_id=thread["root"].tree_id, lft=F("lft") + 100, rght=F("rght") + 100
    )


def boundaries():
    return list(Comment.objects.order_by("pk").values_list("pk", "tree_id", "lft", "rght", "level"))


def test_consistent_trees_pass_with_exit_status_zero(thread):
    code, out, _err = run()
    assert code == 0
    assert "Checked 6 comments in 2 trees: all trees are consistent." in out


def test_empty_database_passes():
    assert run()[0] == 0


def test_wrong_level_is_reported_and_exits_non_zero(thread):
    Comment.objects.filter(pk=thread["a1"].pk).update(level=5)
    code, _out, err = run()
    assert code == 1
    assert f"tree {thread['root'].tree_id} (root #{thread['root'].pk})" in err
    assert f"comment #{thread['a1'].pk} has lft/rght/level" in err
    # The healthy tree is not listed.
    assert f"root #{thread['other'].pk}" not in err


def test_overlapping_boundaries_are_reported(thread):
    # b's interval now overlaps a's: the nesting is broken.
    Comment.objects.filter(pk=thread["b"].pk).update(lft=4, rght=9)
    report = check_trees()
    assert not report.ok
    assert [p.root_id for p in report.problems] == [thread["root"].pk]


def test_reply_in_another_tree_than_its_parent_is_reported(thread):
    Comment.objects.filter(pk=thread["a1"].pk).update(tree_id=thread["other"].tree_id + 10)
    code, _out, err = run()
    assert code == 1
    assert f"comment #{thread['a1'].pk} has tree id" in err


def test_two_roots_sharing_a_tree_id_are_reported(thread):
    move_other_tree_onto_roots_tree_id(thread)
    code, _out, err = run()
    assert code == 1
    assert "tree id also used by root" in err


def test_reply_on_another_article_than_its_parent_is_reported_as_unrepairable(
    thread, comment_factory
):
    elsewhere = comment_factory()
    Comment.objects.filter(pk=thread["b"].pk).update(article=elsewhere.article)
    code, _out, err = run("--repair")
    assert code == 1
    assert "cannot be repaired automatically" in err
    assert f"comment #{thread['b'].pk} is on article {elsewhere.article_id}" in err


def test_repair_rebuilds_a_broken_tree_and_reports_what_changed(thread):
    healthy = boundaries()
    Comment.objects.filter(pk=thread["a1"].pk).update(level=4, lft=40, rght=41)
    Comment.objects.filter(pk=thread["b"].pk).update(tree_id=thread["other"].tree_id + 7)
    code, out, _err = run("--repair")
    assert code == 0
    assert "Repaired: updated 2 comment(s)." in out
    assert f"comment #{thread['a1'].pk}: tree/lft/rght/level" in out
    assert boundaries() == healthy
    assert run()[0] == 0


def test_repair_gives_a_duplicated_root_a_fresh_tree_id(thread):
    move_other_tree_onto_roots_tree_id(thread)
    code, _out, _err = run("--repair")
    assert code == 0
    assert check_trees().ok
    other_ids = set(
        Comment.objects.filter(article=thread["other"].article)
        .filter(pk__in=[thread["other"].pk, thread["other"].pk + 1])
        .values_list("tree_id", flat=True)
    )
    assert len(other_ids) == 1
    assert thread["root"].tree_id not in other_ids


def test_repair_of_consistent_trees_changes_nothing(thread):
    before = boundaries()
    code, out, _err = run("--repair")
    assert code == 0
    assert "all trees are consistent" in out
    assert boundaries() == before


def test_check_reads_the_comments_in_one_query(thread, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        check_trees()
