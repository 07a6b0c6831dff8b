"""The sanctions admin: every sanction listed, added for any target through
``comments.moderation`` (validated by ``comments.sanctions.parse_target``), lifted,
replaced, never changed in place and never deleted."""

from datetime import timedelta

import html5lib
import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from comments import sanctions
from comments.models import Sanction
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

Kind = Sanction.Kind
LIST = reverse("admin:comments_sanction_changelist")
ADD = reverse("admin:comments_sanction_add")


def parse(response):
    return html5lib.parse(
        response.content.decode(), treebuilder="etree", namespaceHTMLElements=False
    )


def text(element):
    return " ".join("".join(element.itertext()).split())


def field_errors(response, name):
    """The messages shown on the add form's row of field ``name``."""
    row = parse(response).find(f".//div[@class='form-row errors field-{name}']")
    if row is None:
        return []
    return [text(li) for li in row.iter("li")]


def change_url(sanction):
    return reverse("admin:comments_sanction_change", args=[sanction.pk])


def split(moment):
    """A time as the admin's date and time inputs send it."""
    local = timezone.localtime(moment)
    return {"ends_at_0": local.strftime("%Y-%m-%d"), "ends_at_1": local.strftime("%H:%M:%S")}


def sanction(**fields):
    fields.setdefault("kind", Kind.BAN)
    fields.setdefault("target_type", "email")
    fields.setdefault("target", "troll@example.org")
    fields.setdefault("reason", "insults")
    if fields["target_type"] == "network":
        parsed = sanctions.parse_target("network", fields["target"])
        fields.update(network_start=parsed.network_start, network_end=parsed.network_end)
    return Sanction.objects.create(**fields)


def log_of(obj):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Sanction), object_id=str(obj.pk)
    )


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


def add(client, **data):
    form = {
        "kind": "ban", "target_type": "email", "target": "", "reason": "x",
        "ends_at_0": "", "ends_at_1": "",
    }  # fmt: skip
    form.update(data)
    return client.post(ADD, form)


# --- the list ------------------------------------------------------------------------
def test_list_shows_kind_target_reason_who_ends_and_state(moderator_client, moderator):
    sanction(reason="insults", created_by=moderator)
    sanction(
        kind=Kind.SUSPENSION, target="other@example.org", reason="flooding",
        ends_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    sanction(target="old@example.org", lifted_at=timezone.now(), lifted_by=moderator)
    response = moderator_client.get(LIST)
    assert response.status_code == 200
    table = text(parse(response).find(".//table[@id='result_list']"))
    for shown in ("Ban", "Suspension", "troll@example.org", "Email address", "insults", "mod"):
        assert shown in table
    states = [text(td) for td in parse(response).iter("td") if td.get("class") == "field-state"]
    assert sorted(states)[0] == "In force" and "Lifted by mod" in sorted(states)[-1]


def test_list_filters_by_state_and_searches_targets(moderator_client):
    sanction(target="kept@example.org")
    sanction(target="lifted@example.org", lifted_at=timezone.now())
    sanction(
        kind=Kind.SUSPENSION,
        target="ended@example.org",
        ends_at=timezone.now() - timedelta(hours=1),
    )

    def targets(**params):
        response = moderator_client.get(LIST, params)
        return sorted(s.target for s in response.context["cl"].result_list)

    assert targets(state="in_force") == ["kept@example.org"]
    assert targets(state="lifted") == ["lifted@example.org"]
    assert targets(state="ended") == ["ended@example.org"]
    assert targets(q="kept") == ["kept@example.org"]


# --- adding -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target_type", "typed", "stored"),
    [
        ("email", " Troll@Example.ORG ", "troll@example.org"),
        ("network", "198.51.100.7/24", "198.51.100.0/24"),
        ("network", "2001:db8::1", "2001:db8::1"),
        ("domain", "@Spam.Example", "spam.example"),
    ],
)
def test_a_moderator_adds_a_sanction_on_any_target(
    moderator_client, moderator, target_type, typed, stored
):
    response = add(
        moderator_client, target_type=target_type, target=typed, reason="Coordinated abuse"
    )
    assert response.status_code == 302
    made = Sanction.objects.get()
    assert (made.target_type, made.target, made.created_by) == (target_type, stored, moderator)
    if target_type == "network":
        assert made.network_start and made.network_end
    # One entry in the audit log, written by comments.moderation (not a second by the admin).
    assert [entry.action_flag for entry in log_of(made)] == [ADDITION]


@pytest.mark.parametrize(
    ("target_type", "typed", "message"),
    [
        ("network", "198.51.100.0/33", "is not an IP address or network"),
        ("network", "not-an-ip", "is not an IP address or network"),
        ("network", "10.0.0.0/4", "is too wide"),
        ("email", "nobody-at-example.org", "is not an email address"),
        ("domain", "localhost", "is not an email domain"),
    ],
)
def test_a_bad_target_gets_a_message_on_its_field(moderator_client, target_type, typed, message):
    response = add(moderator_client, target_type=target_type, target=typed)
    assert response.status_code == 200
    errors = field_errors(response, "target")
    assert len(errors) == 1 and message in errors[0]
    assert not Sanction.objects.exists()


def test_a_suspension_needs_an_end_in_the_future(moderator_client):
    response = add(moderator_client, kind="suspension", target="a@example.org")
    assert field_errors(response, "ends_at") == ["A suspension needs an end."]
    past = split(timezone.now() - timedelta(hours=1))
    response = add(moderator_client, kind="suspension", target="a@example.org", **past)
    assert field_errors(response, "ends_at") == ["Choose a time in the future."]
    response = add(moderator_client, kind="ban", target="a@example.org", reason="")
    assert field_errors(response, "reason") == ["This field is required."]
    assert not Sanction.objects.exists()
    week = split(timezone.now() + timedelta(days=7))
    response = add(moderator_client, kind="suspension", target="a@example.org", **week)
    assert response.status_code == 302
    assert Sanction.objects.get().ends_at > timezone.now()


def test_a_moderator_without_add_sanction_gets_403_on_the_add_form():
    group = Group.objects.create(name="Read-only desk")
    group.permissions.set(
        Group.objects.get(name="Moderators").permissions.exclude(codename="add_sanction")
    )
    user = StaffFactory(username="limited")
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    assert client.get(ADD).status_code == 403
    assert add(client, target="a@example.org").status_code == 403
    assert not Sanction.objects.exists()


# --- never changed in place, never deleted --------------------------------------------
def test_a_sanction_page_is_read_only_and_refuses_a_post(moderator_client):
    ban = sanction()
    page = moderator_client.get(change_url(ban))
    assert page.status_code == 200
    doc = parse(page)
    assert doc.find(".//input[@name='_save']") is None
    assert doc.find(".//input[@name='target']") is None
    response = moderator_client.post(
        change_url(ban), {"kind": "warning", "target_type": "email", "target": "x@example.org"}
    )
    assert response.status_code == 403
    ban.refresh_from_db()
    assert (ban.kind, ban.target) == (Kind.BAN, "troll@example.org")


def test_no_one_deletes_a_sanction(moderator_client, superuser):
    ban = sanction()
    delete = reverse("admin:comments_sanction_delete", args=[ban.pk])
    root = Client()
    root.force_login(superuser)
    for client in (moderator_client, root):
        assert client.post(delete, {"post": "yes"}).status_code == 403
        response = client.get(LIST)
        offered = [o.get("value") for o in parse(response).iter("option")]
        assert "delete_selected" not in offered and "lift_selected" in offered
    assert Sanction.objects.filter(pk=ban.pk).exists()


def test_lift_from_the_sanction_page(moderator_client, moderator):
    ban = sanction()
    doc = parse(moderator_client.get(change_url(ban)))
    assert doc.find(".//div[@class='sanction-buttons']//button") is not None
    response = moderator_client.post(reverse("admin:comments_sanction_lift", args=[ban.pk]))
    assert response.status_code == 302
    ban.refresh_from_db()
    assert ban.lifted_by == moderator and ban.lifted_at is not None
    again = moderator_client.post(reverse("admin:comments_sanction_lift", args=[ban.pk]))
    assert again.status_code == 302
    assert [str(m) for m in moderator_client.get(LIST).context["messages"]][-1].endswith(
        "had been lifted already."
    )


def test_lift_the_selected_sanctions(moderator_client, moderator):
    first, second = sanction(), sanction(target="b@example.org")
    untouched = sanction(target="c@example.org")
    response = moderator_client.post(
        LIST, {"action": "lift_selected", "_selected_action": [first.pk, second.pk]}
    )
    assert response.status_code == 302
    assert set(Sanction.objects.in_force()) == {untouched}
    assert Sanction.objects.count() == 3
    message = [str(m) for m in moderator_client.get(LIST).context["messages"]][0]
    assert message == "2 sanctions were lifted."


def test_replacing_a_sanction_lifts_it_and_adds_the_new_one(moderator_client, moderator):
    old = sanction(kind=Kind.SUSPENSION, ends_at=timezone.now() + timedelta(days=1))
    doc = parse(moderator_client.get(change_url(old)))
    replace = next(a.get("href") for a in doc.iter("a") if "Replace" in text(a))
    form = moderator_client.get(replace)
    assert form.status_code == 200
    initial = form.context["adminform"].form.initial
    assert (initial["kind"], initial["target"], initial["replaces"]) == (
        Kind.SUSPENSION, "troll@example.org", old.pk,
    )  # fmt: skip
    response = add(
        moderator_client, kind="ban", target="troll@example.org", reason="worse", replaces=old.pk
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.lifted_by == moderator
    new = Sanction.objects.exclude(pk=old.pk).get()
    assert (new.kind, new.reason, new.lifted_at) == (Kind.BAN, "worse", None)
