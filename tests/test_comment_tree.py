"""The thread a reader sees is the tree that was posted (property-tested with hypothesis)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comments.models import Comment
from comments.tree import Node, build_thread
from tests.factories import ArticleFactory, CommentFactory
from tests.html import comment_items, parent_comment_map, parse

pytestmark = pytest.mark.django_db

STATUSES = [s.value for s in Comment.Status]

# A posting sequence: each step is (index of an earlier comment to reply to, or None; status).
posting_sequences = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)), st.sampled_from(STATUSES)
    ),
    min_size=0,
    max_size=25,
)


def post_sequence(steps):
    article = ArticleFactory()
    posted = []
    for parent_index, status in steps:
        parent = (
            posted[parent_index % len(posted)] if (parent_index is not None and posted) else None
        )
        posted.append(CommentFactory(article=article, parent=parent, status=status))
    return article, posted


def render_all(article, client_settings):
    client_settings.COMMENTS_THREADS_PER_PAGE = 10_000
    client_settings.COMMENTS_PER_PAGE = 0
    client_settings.COMMENTS_MAX_DEPTH = 10_000
    from comments.threads import render_page

    return render_page(article, use_cache=False)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=posting_sequences)
def test_every_public_comment_appears_once_under_its_parent_in_posting_order(settings, steps):
    article, posted = post_sequence(steps)
    page = render_all(article, settings)
    doc = parse(f"<!DOCTYPE html><html><body>{page.html}</body></html>")
    by_pk = {c.pk: c for c in posted}
    approved = {c.pk for c in posted if c.status == Comment.Status.APPROVED}

    items = comment_items(doc)
    ids = [li.get("id") for li in items]
    assert len(ids) == len(set(ids)), "a comment appears twice"
    full = {int(li.get("id").split("-")[1]) for li in items if "placeholder" not in li.get("class")}
    assert full == approved
    assert page.comment_count == len(approved)

    # Every shown comment sits inside its real parent's <li>.
    nesting = parent_comment_map(doc)
    for li_id, enclosing in nesting.items():
        comment = by_pk[int(li_id.split("-")[1])]
        expected = f"comment-{comment.parent_id}" if comment.parent_id else None
        assert enclosing == expected

    # Placeholders: exactly the non-public comments that have a public descendant.
    def has_public_descendant(comment):
        return any(
            c.pk in approved and c.tree_id == comment.tree_id and comment.lft < c.lft < comment.rght
            for c in (Comment.objects.get(pk=p.pk) for p in posted)
        )

    placeholders = {
        int(li.get("id").split("-")[1]) for li in items if "placeholder" in li.get("class")
    }
    expected_placeholders = {
        c.pk
        for c in (Comment.objects.get(pk=p.pk) for p in posted)
        if c.pk not in approved and has_public_descendant(c)
    }
    assert placeholders == expected_placeholders

    # Siblings in posting order.
    children_order = {}
    for li_id, enclosing in nesting.items():
        children_order.setdefault(enclosing, []).append(int(li_id.split("-")[1]))
    for siblings in children_order.values():
        assert siblings == sorted(siblings)


def test_build_thread_never_turns_an_orphaned_reply_into_a_root():
    # The parent (pk 1) is missing from the list: the reply keeps its level, nothing is promoted.
    nodes = [Node(pk=2, parent_id=1, level=1, status="approved")]
    shown = build_thread(nodes, max_depth=6)
    assert [(n.pk, n.depth) for n in shown] == [(2, 2)]


def test_a_placeholder_carries_nothing_of_the_hidden_comment():
    """Templates (a site's too) get a removed or held comment's pk and status only."""
    removed = Node(
        pk=1,
        parent_id=None,
        level=0,
        status="removed",
        author_name="Mallory",
        author_url="https://mallory.example/",
        body_html="<p>Removed text</p>",
        created_at=object(),
        edited_at=object(),
    )
    reply = Node(pk=2, parent_id=1, level=1, status="approved", author_name="Bob")
    placeholder, shown_reply = build_thread([removed, reply], max_depth=1)
    assert (placeholder.pk, placeholder.status, placeholder.visible) == (1, "removed", False)
    assert (placeholder.author_name, placeholder.author_url, placeholder.body_html) == ("", "", "")
    assert placeholder.created_at is placeholder.edited_at is None
    assert (shown_reply.author_name, shown_reply.parent_name) == ("Bob", "")


def test_build_thread_handles_a_chain_far_deeper_than_the_recursion_limit():
    nodes = [Node(pk=i + 1, parent_id=i or None, level=i, status="approved") for i in range(5000)]
    shown = build_thread(nodes, max_depth=6)
    assert len(shown) == 5000
    assert shown[0].reply_count == 4999
    assert {n.depth for n in shown[6:]} == {6}


def test_two_replies_in_a_row_leave_valid_tree_boundaries(client, article, comment_data, settings):
    settings.COMMENTS_FLOOD_SECONDS = 0
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    root = CommentFactory(article=article)
    url = f"/comments/post/{article.slug}/"
    for i in range(2):
        response = client.post(url, comment_data(parent=str(root.pk), body=f"reply {i}"))
        assert response.status_code == 303
    root.refresh_from_db()
    replies = list(root.get_children())
    assert [r.body for r in replies] == ["reply 0", "reply 1"]
    assert (root.lft, root.rght) == (1, 6)
    assert [(r.lft, r.rght) for r in replies] == [(2, 3), (4, 5)]
    assert Comment.objects.filter(tree_id=root.tree_id).count() == 3


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    statuses=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=12),
    own=st.sets(st.integers(min_value=0, max_value=11)),
)
def test_the_page_query_and_the_tree_agree_on_what_a_reader_sees(statuses, own):
    """``Comment.objects.visible_to`` (what the page counts and plans) and
    ``build_thread`` (what it shows in full) are one rule: public, or the reader's own
    held comment."""
    article = ArticleFactory()
    comments = [CommentFactory(article=article, status=status) for status in statuses]
    own_ids = {comments[i].pk for i in own if i < len(comments)}
    queried = set(
        Comment.objects.filter(article=article).visible_to(own_ids).values_list("pk", flat=True)
    )
    nodes = [Node(pk=c.pk, parent_id=None, level=0, status=c.status) for c in comments]
    build_thread(nodes, max_depth=6, own_ids=own_ids)
    assert queried == {node.pk for node in nodes if node.visible}
