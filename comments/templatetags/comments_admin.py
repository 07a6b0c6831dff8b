"""Template tags for the admin: how many comments wait in the moderation queue."""

from django import template

from comments.models import Comment

register = template.Library()


@register.simple_tag
def pending_comment_count():
    return Comment.objects.pending().count()
