"""IP retention: addresses and user agents older than COMMENTS_IP_RETENTION_DAYS are
cleared by ``manage.py clear_old_ips``; recent ones, and the rules reading them, stay."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from comments.models import Comment, CommentReport, Reaction
from comments.privacy import clear_old_ips
from comments.reports import reporter_network
from comments.rules import CommentRefused, refuse_flood
from tests.factories import ArticleFactory, CommentFactory

pytestmark = pytest.mark.django_db


def _old(days=91):
    return timezone.now() - timedelta(days=days)


def _report(comment, *, at, ip="198.51.100.9"):
    report = CommentReport.objects.create(
        comment=comment,
        reason=CommentReport.Reason.SPAM,
        session_key=f"s{CommentReport.objects.count()}",
        ip_address=ip,
        network=reporter_network(ip),
    )
    CommentReport.objects.filter(pk=report.pk).update(created_at=at)
    return report


def test_old_comment_addresses_are_cleared_and_recent_ones_kept():
    old = CommentFactory(created_at=_old())
    recent = CommentFactory(created_at=_old(89))

    cleared = clear_old_ips()

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.ip_address, old.user_agent) == (None, "")
    assert (recent.ip_address, recent.user_agent) == ("203.0.113.7", "pytest")
    assert cleared.comments == 1
    # The comment itself is untouched.
    assert old.status == Comment.Status.APPROVED
    assert old.body == Comment.objects.get(pk=old.pk).body


def test_old_report_addresses_and_reaction_networks_are_cleared():
    comment = CommentFactory()
    old_report = _report(comment, at=_old())
    recent_report = _report(comment, at=_old(10))
    old_reaction = Reaction.objects.create(
        comment=comment, session_key="a", network="198.51.100.0/24", created_at=_old()
    )
    recent_reaction = Reaction.objects.create(
        comment=comment, session_key="b", network="198.51.100.0/24"
    )

    cleared = clear_old_ips()

    old_report.refresh_from_db()
    recent_report.refresh_from_db()
    assert (old_report.ip_address, old_report.network) == (None, "")
    assert (recent_report.ip_address, recent_report.network) == (
        "198.51.100.9",
        "198.51.100.0/24",
    )
    assert Reaction.objects.get(pk=old_reaction.pk).network == ""
    assert Reaction.objects.get(pk=recent_reaction.pk).network == "198.51.100.0/24"
    assert (cleared.reports, cleared.reactions) == (1, 1)


def test_a_second_run_changes_nothing():
    CommentFactory(created_at=_old())
    _report(CommentFactory(), at=_old())
    assert clear_old_ips().total == 2

    assert clear_old_ips().total == 0


def test_the_retention_period_is_a_setting(settings):
    comment = CommentFactory(created_at=_old(20))
    settings.COMMENTS_IP_RETENTION_DAYS = 30
    clear_old_ips()
    assert Comment.objects.get(pk=comment.pk).ip_address == "203.0.113.7"

    settings.COMMENTS_IP_RETENTION_DAYS = 10
    clear_old_ips()
    assert Comment.objects.get(pk=comment.pk).ip_address is None


def test_zero_days_keeps_every_address(settings):
    settings.COMMENTS_IP_RETENTION_DAYS = 0
    comment = CommentFactory(created_at=_old(4000))

    out = StringIO()
    call_command("clear_old_ips", stdout=out)

    assert Comment.objects.get(pk=comment.pk).ip_address == "203.0.113.7"
    assert "kept" in out.getvalue()


def test_the_command_reports_what_it_cleared():
    CommentFactory(created_at=_old())
    out = StringIO()
    call_command("clear_old_ips", stdout=out)
    assert "1 comment(s), 0 report(s), 0 reaction(s)" in out.getvalue()

    out = StringIO()
    call_command("clear_old_ips", stdout=out)
    assert "0 comment(s)" in out.getvalue()


def test_flood_control_still_reads_recent_comments_after_a_run(settings, monkeypatch):
    """With the cache down, flood control falls back to the comments of the last
    COMMENTS_FLOOD_SECONDS by address: clearing old rows leaves those alone."""
    from comments import rules

    settings.COMMENTS_FLOOD_SECONDS = 60
    article = ArticleFactory()
    CommentFactory(article=article, created_at=_old())
    CommentFactory(article=article, ip_address="192.0.2.50", created_at=timezone.now())
    clear_old_ips()

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", broken)
    monkeypatch.setattr(rules, "_log_cache_failure_once", lambda: None)
    candidate = rules.Candidate(
        article=article,
        parent=None,
        name="Flooder",
        email="flood@example.net",
        url="",
        body="Again",
        ip_address="192.0.2.50",
    )
    with pytest.raises(CommentRefused):
        refuse_flood(candidate)


def test_a_network_ban_still_applies_after_its_commenters_addresses_are_cleared(staff_user):
    """A sanction keeps its own address (a moderator's decision): clearing the addresses
    of old comments does not lift it."""
    from comments import moderation, sanctions
    from comments.models import Sanction

    CommentFactory(created_at=_old(), ip_address="192.0.2.10")
    ban = moderation.add_sanction(
        Sanction.Kind.BAN,
        target_type=Sanction.Target.NETWORK,
        target="192.0.2.10",
        by=staff_user,
        reason="spam from here",
    )
    clear_old_ips()

    assert Comment.objects.filter(ip_address__isnull=False).count() == 0
    assert sanctions.in_force_for("new@example.net", "192.0.2.10") == (ban,)
