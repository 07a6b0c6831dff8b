"""``@Name`` in a comment: when Name is the name of an approved commenter earlier in the
same thread (the tree of replies under one first comment), the mention links to their
latest comment there, and they hear of it if they follow replies (``comments.follows``).

The link is part of the comment's rendered HTML (``Comment.save``), so the thread's
render costs nothing more; the mentioned comments are read back from it
(``mentioned_ids``) when the comment becomes public.
"""

import re

from django.utils.html import escape

MENTION_ATTRIBUTE = "data-mention"
_TAG = re.compile(r"(<[^>]*>)")
_MENTIONED = re.compile(rf'{MENTION_ATTRIBUTE}="(\d+)"')


def candidates(comment):
    """``{name: (comment id, url)}`` of the approved comments of ``comment``'s thread
    other than itself, the latest comment of each name (a name is matched case-blind)."""
    from comments.models import Comment

    if comment.parent_id is not None:
        tree_id = Comment.objects.filter(pk=comment.parent_id).values_list("tree_id", flat=True)
        tree_id = tree_id.first()
    else:
        tree_id = comment.tree_id if comment.pk else None
    if tree_id is None:
        return {}
    rows = (
        Comment.objects.approved()
        .filter(tree_id=tree_id)
        .exclude(pk=comment.pk)
        .order_by("created_at")
        .values_list("pk", "author_name")
    )
    found = {}
    for pk, name in rows:
        if name.strip():
            found[name.strip().casefold()] = (pk, name.strip())
    return {name: pk for _key, (pk, name) in found.items()}


def link_mentions(html, names):
    """``html`` with each ``@Name`` of ``names`` (``{name: comment id}``) in its text
    (not in a tag, not inside a link) turned into a link to that comment. The longest
    name wins ("@Ada Lovelace" over "@Ada"); a name must end at a word's end."""
    from django.urls import reverse

    if not names or "@" not in html:
        return html
    by_escaped = {escape(name).casefold(): (name, pk) for name, pk in names.items()}
    pattern = re.compile(
        r"(?<!\w)@("
        + "|".join(re.escape(n) for n in sorted(by_escaped, key=len, reverse=True))
        + r")(?!\w)",
        re.IGNORECASE,
    )

    def replace(match):
        hit = by_escaped.get(match.group(1).casefold())
        if hit is None:  # a case-blind match casefold() spells otherwise
            return match.group(0)
        name, pk = hit
        url = reverse("comments:permalink", args=[pk])
        return f'<a class="mention" href="{url}" {MENTION_ATTRIBUTE}="{pk}">{match.group(0)}</a>'

    parts = _TAG.split(html)
    in_link = 0
    for i, part in enumerate(parts):
        if i % 2:  # a tag
            lowered = part.lower()
            if lowered.startswith("<a ") or lowered == "<a>":
                in_link += 1
            elif lowered.startswith("</a"):
                in_link = max(in_link - 1, 0)
        elif not in_link and "@" in part:
            parts[i] = pattern.sub(replace, part)
    return "".join(parts)


def render_mentions(comment, html):
    """The comment's rendered HTML with its mentions linked (one query, only when its
    text has an ``@``)."""
    if "@" not in (comment.body or ""):
        return html
    return link_mentions(html, candidates(comment))


def mentioned_ids(comment):
    """The ids of the comments ``comment`` mentions, read from its rendered HTML."""
    return [int(pk) for pk in dict.fromkeys(_MENTIONED.findall(comment.body_html or ""))]
