"""The baseline: the same comments rendered the way django-mptt tutorials do it.

``{% recursetree %}`` over the article's approved comments, with markup close to
ours (author, permalink with date, body, reply link) so the HTML is comparable.
"""

from django.template import engines

RECURSETREE = (
    "{% load mptt_tags %}"
    '<ol class="comment-list">{% recursetree nodes %}'
    '<li id="comment-{{ node.pk }}" class="comment depth-{{ node.level|add:1 }}">'
    '<article class="comment-body"><header class="comment-meta">'
    '<span class="comment-author">{% if node.author_url %}'
    '<a class="url" href="{{ node.author_url }}" rel="external nofollow ugc">'
    "{{ node.author_name }}</a>{% else %}{{ node.author_name }}{% endif %}</span> "
    '<a class="comment-permalink" href="{{ node.get_absolute_url }}">'
    "<time datetime=\"{{ node.created_at|date:'c' }}\">"
    '{{ node.created_at|date:"F j, Y \\a\\t g:i a" }}</time></a></header>'
    '<div class="comment-content">{{ node.body_html|safe }}</div>'
    '<footer class="comment-actions">'
    '<a class="comment-reply-link" href="?replyto={{ node.pk }}#respond">Reply</a>'
    "</footer></article>"
    '{% if not node.is_leaf_node %}<ol class="children">{{ children }}</ol>{% endif %}'
    "</li>{% endrecursetree %}</ol>"
)


def render_recursetree(article):
    from comments.models import Comment

    template = engines["django"].from_string(RECURSETREE)
    nodes = Comment.objects.approved().filter(article=article)
    return template.render({"nodes": nodes})
