"""Demo content for a local site. Idempotent: a second run changes nothing."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from articles.models import Article, Section, Tag
from articles.rendering import render_markdown
from articles.signals import demo_seeded

AUTHORS = [
    ("mara", "Mara", "Okafor", "mara@example.com"),
    ("teodor", "Teodor", "Lindqvist", "teodor@example.com"),
    ("priya", "Priya", "Raman", "priya@example.com"),
]

# (slug, title, author, days ago, summary, body)
ARTICLES = [
    (
        "night-bus-timetables-go-open",
        "Night bus timetables go open, and the data is messier than anyone admitted",
        "mara",
        2,
        "The transit authority published its night network as open data. We spent a week "
        "reading it.",
        "The city's transit authority released its night bus timetables as open data last "
        "Tuesday.\n\n## What we found\n\n- Eleven routes list stops that were removed in "
        "spring.\n- Two routes run *twice* on Sundays, according to the files.\n- The "
        "documentation is one paragraph long.\n\nNone of this is scandalous. All of it "
        "matters if you build an app on top of it.\n\n> Open data is a start, not a "
        "finish line.\n\nWe asked the authority for comment and will update this article.",
    ),
    (
        "coding-bootcamps-worth-it",
        "Are coding bootcamps still worth the money?",
        "teodor",
        4,
        "Twelve weeks, a five-figure fee and a promise of a new career. We followed three "
        "graduates for a year.",
        "Bootcamps promise a new career in twelve weeks. The fee is real; the outcome is "
        "less certain.\n\nWe followed three graduates for a year. One works as a developer. "
        "One went back to her old job with new skills. One is still looking.\n\n"
        "### What made the difference\n\n1. A portfolio built on problems they cared about\n"
        "2. A network, mostly from meetups, not from the course\n3. Time: months of "
        "practice after graduation\n\nThe courses are not worthless. They are also not "
        "magic.",
    ),
    (
        "the-quiet-return-of-rss",
        "The quiet return of RSS",
        "priya",
        6,
        "Feed readers never died. They just stopped being fashionable.",
        "Every few years someone declares RSS dead. Every few years more people quietly "
        "subscribe to feeds.\n\nA feed is a promise: *this site will tell you when "
        "something new appears, and nobody will rank it for you.* That promise is "
        "surprisingly rare.\n\nThis site has one at `/feed/`, of course.",
    ),
    (
        "repairable-laptops-one-year-on",
        "Repairable laptops, one year on",
        "mara",
        9,
        "We bought a modular laptop last autumn and tried to break it.",
        "A year ago we bought a laptop sold on the promise that every part can be "
        "replaced.\n\nSince then we have swapped the keyboard, the battery and a hinge. "
        "Each took under fifteen minutes with the included screwdriver.\n\nThe catch: "
        "spare parts ship from one warehouse, and shipping took nine days.",
    ),
    (
        "municipal-wifi-experiment",
        "The municipal Wi-Fi experiment nobody noticed",
        "teodor",
        12,
        "Free Wi-Fi in three parks for six months. Usage data says people liked it; the "
        "council is not sure.",
        "For six months, three parks offered free Wi-Fi. The council published usage data "
        "this week.\n\nPeak use came at lunchtime on weekdays. Most sessions lasted under "
        "twenty minutes.\n\nWhether that justifies the cost is a question for the budget "
        "meeting next month.",
    ),
    (
        "what-a-database-migration-taught-us",
        "What moving our archive to a new database taught us",
        "priya",
        15,
        "Twenty years of articles, one weekend, and a spreadsheet of surprises.",
        "We moved twenty years of articles to a new database over one weekend.\n\n"
        "Lessons:\n\n- Dates are never in one format.\n- Someone, in 2009, pasted a whole "
        "article into the summary field.\n- Test the restore, not just the backup.",
    ),
    (
        "e-bike-subsidies-explained",
        "E-bike subsidies, explained",
        "mara",
        18,
        "Who qualifies, how much you get back, and the paperwork in between.",
        "The regional e-bike subsidy covers up to a quarter of the price, capped per "
        "household.\n\nYou apply **after** buying, with the receipt and proof of address. "
        "Processing currently takes about six weeks.",
    ),
    (
        "local-newsrooms-and-comment-sections",
        "Why local newsrooms are turning comments back on",
        "teodor",
        21,
        "A decade after many sites closed their comment sections, some are reopening them "
        "with better moderation tools.",
        "Around 2015 many news sites switched their comments off. Some are now switching "
        "them back on.\n\nThe difference this time is moderation: queues, rules that catch "
        "most spam before a person sees it, and readers who can flag what slips through.",
    ),
    (
        "heat-pumps-in-old-houses",
        "Heat pumps in old houses: what installers told us",
        "priya",
        25,
        "Five installers, one question: does it work in a house built in 1920?",
        "We asked five installers whether a heat pump makes sense in a house built in "
        "1920.\n\nAll five said yes, *after* insulation. Three said the radiators would "
        "probably need replacing too.",
    ),
    (
        "library-card-streaming",
        "Your library card now streams films",
        "mara",
        28,
        "The city libraries added a film streaming service. Here's what's in the catalogue.",
        "City libraries now include a film streaming service with your card.\n\nThe "
        "catalogue leans towards documentaries and older classics. Each card gets eight "
        "films a month.",
    ),
]

DRAFT = (
    "draft-city-budget-analysis",
    "Draft: reading the city budget line by line",
    "teodor",
    "Work in progress.",
    "Notes so far: the parks line grew by four percent.",
)
SCHEDULED = (
    "scheduled-election-night-live",
    "Election night: how we'll cover it",
    "priya",
    "Our plan for election night, published ahead of time.",
    "We will publish results as each district reports, with context from our reporters.",
)

CLOSED_ARTICLE = "municipal-wifi-experiment"

# (slug, name, description), in the order the site lists them.
SECTIONS = [
    ("news", "News", "What happened, checked and explained."),
    ("opinion", "Opinion", "Arguments from our writers and guests."),
    ("reviews", "Reviews", "Things we bought, borrowed or tried, and what we made of them."),
]
# Article slug → (section slug, tag names).
FILED = {
    "night-bus-timetables-go-open": ("news", ["Open data", "Transport"]),
    "coding-bootcamps-worth-it": ("opinion", ["Education", "Careers"]),
    "the-quiet-return-of-rss": ("opinion", ["The web"]),
    "repairable-laptops-one-year-on": ("reviews", ["Hardware", "Right to repair"]),
    "municipal-wifi-experiment": ("news", ["City council", "The web"]),
    "what-a-database-migration-taught-us": ("opinion", ["Databases"]),
    "e-bike-subsidies-explained": ("news", ["Transport"]),
    "local-newsrooms-and-comment-sections": ("opinion", ["Journalism"]),
    "heat-pumps-in-old-houses": ("reviews", ["Energy", "Housing"]),
    "library-card-streaming": ("reviews", ["Libraries", "Film"]),
    "draft-city-budget-analysis": ("news", ["City council"]),
    "scheduled-election-night-live": ("news", ["Elections"]),
}


def refresh_body_html(article):
    """Save ``article`` if its stored HTML is not what its Markdown renders to now (say,
    rendered before headings started at h2); True if it was saved. Saving bumps
    ``updated_at``, so cached pages are not served with the old HTML."""
    if not article.body or article.body_html == render_markdown(article.body):
        return False
    article.save()
    return True


class Command(BaseCommand):
    help = "Create demo authors, articles and discussions. Safe to run repeatedly."

    @transaction.atomic
    def handle(self, *args, **options):
        authors = self.create_authors()
        now = timezone.now()
        created = refreshed = 0
        for slug, title, author, days_ago, summary, body in ARTICLES:
            article, was_created = Article.objects.get_or_create(
                slug=slug,
                defaults={
                    "title": title,
                    "author": authors[author],
                    "summary": summary,
                    "body": body,
                    "status": Article.Status.PUBLISHED,
                    "published_at": now - timedelta(days=days_ago, hours=3),
                    "comments_open": slug != CLOSED_ARTICLE,
                },
            )
            created += was_created
            refreshed += not was_created and refresh_body_html(article)
        slug, title, author, summary, body = DRAFT
        created += Article.objects.get_or_create(
            slug=slug,
            defaults={
                "title": title,
                "author": authors[author],
                "summary": summary,
                "body": body,
                "status": Article.Status.DRAFT,
            },
        )[1]
        slug, title, author, summary, body = SCHEDULED
        created += Article.objects.get_or_create(
            slug=slug,
            defaults={
                "title": title,
                "author": authors[author],
                "summary": summary,
                "body": body,
                "status": Article.Status.PUBLISHED,
                "published_at": now + timedelta(days=7),
            },
        )[1]
        self.file_articles()
        # Other apps add their demo content (the comments app: its discussions). Their
        # saves go through the model signals, so pages cached before are refreshed.
        responses = demo_seeded.send(sender=self.__class__)
        comments_created = sum(count or 0 for _receiver, count in responses)
        self.stdout.write(
            f"Demo content ready: {created} article(s) and {comments_created} comment(s) "
            f"created, {refreshed} article(s) re-rendered."
        )
        self.create_admin()

    def file_articles(self):
        """Demo sections and tags, and each demo article filed under them once: an
        article given a section or tags (by an editor, or an earlier run) keeps them."""
        sections = {}
        for position, (slug, name, description) in enumerate(SECTIONS):
            sections[slug] = Section.objects.get_or_create(
                slug=slug,
                defaults={"name": name, "description": description, "position": position},
            )[0]
        tags = {}
        for name in sorted({name for _section, names in FILED.values() for name in names}):
            tags[name] = Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0]
        for article in Article.objects.filter(slug__in=FILED).prefetch_related("tags"):
            section, names = FILED[article.slug]
            if article.section_id is None:
                article.section = sections[section]
                article.save()
            if not article.tags.all():
                article.tags.add(*(tags[name] for name in names))

    def create_authors(self):
        User = get_user_model()
        authors = {}
        for username, first, last, email in AUTHORS:
            user, was_created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": email},
            )
            if was_created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            authors[username] = user
        return authors

    def create_admin(self):
        """With debug on and no superuser, create ``admin`` with a random password, once."""
        User = get_user_model()
        if not settings.DEBUG or User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.com", password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created superuser 'admin' with password: {password}\n"
                "It is shown only this once; change it in the admin or with "
                "'python manage.py changepassword admin'."
            )
        )
