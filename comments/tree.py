"""Turn a flat, tree-ordered list of comments into what a reader sees.

Input: every comment of the page's threads, ordered by ``(tree_id, lft)`` (one
query). Output: the same list, each entry marked shown or not, as a comment or a
placeholder, with its display depth and reply count. Iterative throughout, so a
chain of thousands of replies has no recursion limit to hit.
"""

from dataclasses import dataclass

# The public status, and the statuses a poster sees in place as "awaiting moderation"
# (spam is never revealed as such). Plain strings: this module imports nothing of Django.
PUBLIC = "approved"
AWAITING = ("pending", "spam")


@dataclass(slots=True)
class Node:
    """One comment of a page's threads: the columns the page reads
    (``threads.NODE_FIELDS``, in that order), then what ``build_thread`` works out."""

    pk: int
    parent_id: int | None
    level: int
    status: str
    author_name: str = ""
    author_url: str = ""
    body_html: str = ""
    created_at: object = None
    edited_at: object = None
    user_id: int | None = None  # the poster's account, if they were logged in
    by_staff: bool | None = None  # that account has staff status (None: no account)
    featured_at: object = None  # made an editors' pick then (shown while public)
    removal_reason: str = ""  # a moderator's statement of reasons (RemovalReason), if any
    profile_id: int | None = None  # the poster's reader profile, when it is shown
    visible: bool = False  # shown in full (public, or the viewer's own pending comment)
    shown: bool = False  # shown at all (in full, or as a placeholder)
    reply_count: int = 0  # shown descendants
    depth: int = 1  # display depth, capped at max_depth
    parent_name: str = ""  # for "in reply to" when depth is capped
    own: bool = False  # one of the reader's own comments
    removal_label: str = ""  # the reason in the reader's language (set by rendering)


def build_thread(nodes, *, max_depth, own_ids=frozenset()):
    """Mark visibility, placeholders, reply counts and display depth in place; a
    placeholder keeps its pk and status only.

    ``nodes`` must be in preorder (``tree_id, lft``), so every parent precedes its
    replies and walking the list backwards meets every reply before its parent.
    Returns the shown nodes, in display order.
    """
    by_pk = {node.pk: node for node in nodes}
    for node in nodes:
        node.own = node.pk in own_ids
        node.visible = node.status == PUBLIC or (node.own and node.status in AWAITING)
        node.shown = node.visible
        node.reply_count = 0
    for node in reversed(nodes):
        if not node.shown:
            continue
        parent = by_pk.get(node.parent_id)
        if parent is not None:
            parent.shown = True
            parent.reply_count += 1 + node.reply_count
    shown = []
    for node in nodes:
        if not node.shown:
            continue
        parent = by_pk.get(node.parent_id)
        if parent is not None and not parent.shown:
            # A gap the query did not include; never promote a reply to a new root.
            continue
        node.depth = min(node.level + 1, max_depth)
        if node.level + 1 > max_depth and parent is not None:
            node.parent_name = parent.author_name if parent.visible else ""
        if not node.visible:
            # A placeholder: nothing of the removed or held comment reaches a template.
            node.author_name = node.author_url = node.body_html = ""
            node.created_at = node.edited_at = node.featured_at = None
            node.user_id = node.by_staff = node.profile_id = None
        shown.append(node)
    return shown
