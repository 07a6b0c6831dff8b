"""Every write that changes the comment trees goes through ``comments.treewrites``:
numbering whole trees, inserting, moving, deleting and renumbering keep every tree
valid, and each write takes the lock of every tree it changes."""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import F
from django.db.transaction import TransactionManagementError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comments import integrity, treewrites
from comments.integrity import check_trees
from comments.models import Comment
from comments.treewrites import Numbers, number_trees
from tests.factories import ArticleFactory, CommentFactory

pytestmark = pytest.mark.django_db


def unsaved(article, **fields):
    return Comment(
        article=article, author_name="Reader", body="Text.", created_at=timezone.now(), **fields
    )


def boundaries(*comments):
    rows = Comment.objects.filter(pk__in=[c.pk for c in comments]).values_list(
        "pk", "tree_id", "lft", "rght", "level"
    )
    by_pk = {pk: Numbers(*numbers) for pk, *numbers in rows}
    return [by_pk[c.pk] for c in comments]


@pytest.fixture
def locks(monkeypatch):
    """The locks each write takes, in order: ("tree", id) or ("new tree",)."""
    taken = []
    lock_tree, lock_new_tree = treewrites.lock_tree, treewrites.lock_new_tree

    def record_tree(tree_id):
        taken.append(("tree", tree_id))
        lock_tree(tree_id)

    def record_new_tree():
        taken.append(("new tree",))
        lock_new_tree()

    monkeypatch.setattr(treewrites, "lock_tree", record_tree)
    monkeypatch.setattr(treewrites, "lock_new_tree", record_new_tree)
    monkeypatch.setattr(integrity, "lock_tree", record_tree)
    monkeypatch.setattr(integrity, "lock_new_tree", record_new_tree)
    return taken


# --- numbering whole trees ---------------------------------------------------------------
# A posting sequence: each comment answers an earlier one (by index, modulo) or starts a thread.
posting_sequences = st.lists(
    st.one_of(st.none(), st.integers(min_value=0, max_value=1000)), min_size=1, max_size=30
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=posting_sequences)
def test_number_trees_gives_the_numbers_mptt_gives_when_each_reply_is_inserted_last(steps):
    article = ArticleFactory()
    posted, parents = [], []
    for step in steps:
        parent = None if step is None or not posted else step % len(posted)
        posted.append(
            CommentFactory(article=article, parent=posted[parent] if parent is not None else None)
        )
        parents.append(parent)
    first = min(number.tree_id for number in boundaries(*posted))
    fresh = iter(range(first, first + len(posted)))

    numbers = number_trees(enumerate(parents), tree_id=lambda _root: next(fresh))

    assert [numbers[index] for index in range(len(posted))] == boundaries(*posted)


def test_number_trees_numbers_siblings_in_the_order_their_pairs_come():
    # Replies may come before their parent; siblings keep the pairs' order (b before a).
    numbers = number_trees(
        [("b", "root"), ("b1", "b"), ("a", "root"), ("root", None)], tree_id=lambda _root: 7
    )
    assert numbers == {
        "root": Numbers(7, 1, 8, 0),
        "b": Numbers(7, 2, 5, 1),
        "b1": Numbers(7, 3, 4, 2),
        "a": Numbers(7, 6, 7, 1),
    }


def test_number_trees_handles_a_chain_far_deeper_than_the_recursion_limit():
    pairs = [(0, None)] + [(n, n - 1) for n in range(1, 5000)]
    numbers = number_trees(pairs, tree_id=lambda _root: 1)
    assert numbers[0] == Numbers(1, 1, 10_000, 0)
    assert numbers[4999] == Numbers(1, 5000, 5001, 4999)


def test_number_trees_leaves_out_comments_no_root_reaches():
    numbers = number_trees([(1, None), (2, 3), (3, 2), (4, 99)], tree_id=lambda _root: 1)
    assert set(numbers) == {1}


# --- insert ----------------------------------------------------------------------------
def test_insert_adds_a_reply_as_the_last_child_and_a_new_comment_as_a_new_tree(article, locks):
    root = CommentFactory(article=article)
    first = CommentFactory(parent=root)
    reply = treewrites.insert(
        unsaved(article),
        parent=root,
    )
    thread = treewrites.insert(
        unsaved(article),
        parent=None,
    )
    assert [(n.lft, n.rght, n.level) for n in boundaries(root, first, reply)] == [
        (1, 6, 0),
        (2, 3, 1),
        (4, 5, 1),
    ]
    assert boundaries(thread)[0].tree_id not in {root.tree_id}
    assert locks == [("tree", root.tree_id), ("new tree",)]
    assert check_trees().ok


def test_insert_reads_the_parent_again_under_the_lock(article):
    root = CommentFactory(article=article)
    stale = Comment.objects.get(pk=root.pk)  # read before the next reply moved its rght
    CommentFactory(parent=root)
    treewrites.insert(unsaved(article), parent=stale)
    assert check_trees().ok
    assert Comment.objects.get(pk=root.pk).rght == 6


def test_insert_locks_the_tree_the_parent_was_moved_to_since_it_was_read(article, locks):
    parent = CommentFactory(article=article)
    stale = Comment.objects.get(pk=parent.pk)
    other = CommentFactory(article=article)
    treewrites.move(Comment.objects.get(pk=parent.pk), parent=other)  # into other's tree
    locks.clear()
    treewrites.insert(unsaved(article), parent=stale)
    assert locks == [("tree", stale.tree_id), ("tree", other.tree_id)]
    assert check_trees().ok


def test_insert_stores_nothing_when_validate_refuses(article):
    root = CommentFactory(article=article)

    def refuse(comment):
        assert comment.parent.pk == root.pk
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        treewrites.insert(unsaved(article), parent=root, validate=refuse)
    assert Comment.objects.count() == 1
    assert boundaries(root)[0][1:3] == (1, 2)


# --- move ------------------------------------------------------------------------------
def test_move_carries_the_replies_into_the_other_tree_and_locks_both(article, locks):
    root = CommentFactory(article=article)
    moving = CommentFactory(parent=root)
    below = CommentFactory(parent=moving)
    other = CommentFactory(article=article)
    CommentFactory(parent=other)
    locks.clear()
    treewrites.move(Comment.objects.get(pk=moving.pk), parent=other)
    moved, child = boundaries(moving, below)
    assert moved.tree_id == child.tree_id == other.tree_id
    assert (moved.level, child.level) == (1, 2)
    assert locks[:2] == sorted([("tree", root.tree_id), ("tree", other.tree_id)])
    assert Comment.objects.get(pk=moving.pk).parent_id == other.pk
    assert check_trees().ok


def test_move_to_top_level_starts_a_new_tree_under_the_new_tree_lock(article, locks):
    root = CommentFactory(article=article)
    moving = CommentFactory(parent=root)
    locks.clear()
    treewrites.move(Comment.objects.get(pk=moving.pk), parent=None)
    assert locks[0] == ("new tree",)
    assert boundaries(moving)[0][1:] == (1, 2, 0)
    assert boundaries(moving)[0].tree_id != root.tree_id
    assert check_trees().ok


def test_move_refuses_a_parent_inside_the_moved_comment(article):
    root = CommentFactory(article=article)
    reply = CommentFactory(parent=root)
    with pytest.raises(treewrites.InvalidMove):
        treewrites.move(Comment.objects.get(pk=root.pk), parent=reply)
    assert check_trees().ok


# --- the admin's tree writes --------------------------------------------------------------
@pytest.fixture
def admin_client_():
    user = get_user_model().objects.create_superuser("root", "root@example.org", "x")
    client = Client()
    client.force_login(user)
    return client


def change_form(comment, **changes):
    return {
        "author_name": comment.author_name,
        "author_email": comment.author_email,
        "author_url": "",
        "body": comment.body,
        "parent": comment.parent_id or "",
        "notify_replies": "",
    } | changes


def test_admin_moves_a_comment_with_its_replies_under_another_parent(admin_client_, article):
    root = CommentFactory(article=article)
    moving = CommentFactory(parent=root)
    below = CommentFactory(parent=moving)
    other = CommentFactory(article=article)
    response = admin_client_.post(
        reverse("admin:comments_comment_change", args=[moving.pk]),
        change_form(moving, parent=other.pk),
    )
    assert response.status_code == 302
    assert [b.tree_id for b in boundaries(moving, below)] == [other.tree_id] * 2
    assert check_trees().ok


def test_admin_refuses_to_move_a_comment_under_its_own_reply(admin_client_, article):
    root = CommentFactory(article=article)
    reply = CommentFactory(parent=root)
    before = boundaries(root, reply)
    response = admin_client_.post(
        reverse("admin:comments_comment_change", args=[root.pk]),
        change_form(root, parent=reply.pk),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["parent"] == ["A comment can't be a reply to itself or to one of its replies."]
    assert boundaries(root, reply) == before
    assert Comment.objects.get(pk=root.pk).parent_id is None


def test_admin_move_refused_under_the_locks_answers_a_message_not_a_500(
    admin_client_, article, monkeypatch
):
    """Two moderators racing: the form's check passed on what it read, then the locked
    re-check in ``treewrites.move`` refuses. Nothing is saved and the moderator is told."""
    from comments.admin import CommentAdminForm

    monkeypatch.setattr(CommentAdminForm, "clean_parent", lambda form: form.cleaned_data["parent"])
    root = CommentFactory(article=article)
    reply = CommentFactory(parent=root)
    before = boundaries(root, reply)
    url = reverse("admin:comments_comment_change", args=[root.pk])
    response = admin_client_.post(url, change_form(root, parent=reply.pk))
    assert response.status_code == 302 and response["Location"] == url
    page = admin_client_.get(url)
    assert "This comment was not moved" in page.content.decode()
    assert boundaries(root, reply) == before
    assert Comment.objects.get(pk=root.pk).parent_id is None


def test_admin_delete_goes_through_delete_leaf_under_the_tree_lock(admin_client_, article, locks):
    root = CommentFactory(article=article)
    leaf = CommentFactory(parent=root)
    kept = CommentFactory(parent=root)
    locks.clear()
    response = admin_client_.post(
        reverse("admin:comments_comment_delete", args=[leaf.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert locks == [("tree", root.tree_id)]
    assert [(b.lft, b.rght) for b in boundaries(root, kept)] == [(1, 4), (2, 3)]
    assert check_trees().ok


def test_delete_leaf_refuses_a_comment_with_replies(article):
    root = CommentFactory(article=article)
    CommentFactory(parent=root)
    with pytest.raises(treewrites.HasReplies):
        treewrites.delete_leaf(root)
    assert Comment.objects.count() == 2


# --- bulk: new comments into new and existing trees ------------------------------------------
def test_place_new_comments_appends_replies_to_stored_trees_and_numbers_new_ones(article, locks):
    root = CommentFactory(article=article)
    old_reply = CommentFactory(parent=root)
    CommentFactory(article=article)  # a tree after root's: untouched
    new_reply = unsaved(article, parent=root)
    nested = unsaved(article, parent=new_reply)
    under_old = unsaved(article, parent=old_reply)
    thread = unsaved(article, parent=None)
    thread_reply = unsaved(article, parent=thread)
    new = [new_reply, nested, under_old, thread, thread_reply]
    locks.clear()
    treewrites.place_new_comments(new, tree_ids=treewrites.TreeIds())
    treewrites.bulk_insert(new)
    assert locks == [("tree", root.tree_id), ("new tree",)]
    assert check_trees().ok
    assert [c.pk for c in Comment.objects.get(pk=root.pk).get_children()] == [
        old_reply.pk,
        new_reply.pk,
    ]
    assert [b[1:] for b in boundaries(root, old_reply, under_old, new_reply, nested)] == [
        (1, 10, 0),
        (2, 5, 1),
        (3, 4, 2),
        (6, 9, 1),
        (7, 8, 2),
    ]
    assert boundaries(thread_reply)[0].tree_id == boundaries(thread)[0].tree_id


# --- comments_check --repair --------------------------------------------------------------
def test_repair_renumbers_from_rows_read_after_locking_the_broken_trees(article, monkeypatch):
    """A reply posted into a broken tree between repair's first read and its locks is
    part of the numbers repair writes (posting takes only that tree's lock)."""
    root = CommentFactory(article=article)
    CommentFactory(parent=root)
    Comment.objects.filter(pk=root.pk).update(rght=F("rght") + 95)  # broken: 99, not 4
    load = integrity._load
    calls = []

    def load_then_a_reply_arrives():
        nodes = load()
        if not calls:
            CommentFactory(parent=root)  # before repair took the tree's lock
        calls.append(1)
        return nodes

    monkeypatch.setattr(integrity, "_load", load_then_a_reply_arrives)
    integrity.repair_trees()
    assert check_trees().ok
    assert Comment.objects.get(pk=root.pk).rght == 6


@pytest.mark.django_db(transaction=True)
def test_tree_writes_refuse_to_run_outside_a_transaction(article):
    """The locks last until the caller's transaction ends: without one they'd be gone
    before the write."""
    root = CommentFactory(article=article)
    with pytest.raises(TransactionManagementError):
        treewrites.insert(unsaved(article), parent=root)
    with pytest.raises(TransactionManagementError):
        treewrites.move(root, parent=None)
    with pytest.raises(TransactionManagementError):
        treewrites.delete_leaf(root)
    assert Comment.objects.count() == 1
