"""Demo discussions for ``seed_demo``: original text, idempotent per article."""

from datetime import timedelta

from django.db import transaction

from articles.models import Article
from comments import moderation, treewrites
from comments.models import Comment

A, P, S = Comment.Status.APPROVED, Comment.Status.PENDING, Comment.Status.SPAM

# Each entry: (key, parent key or None, name, email, status, hours after publication, body).
# "@author" stands for the article's author.
DEEP_THREAD = [
    (
        "a",
        None,
        "Anonymous",
        "anon1@example.net",
        A,
        2,
        "Honestly, these courses are worth nothing. Anyone can learn from free tutorials.",
    ),
    (
        "b",
        "a",
        "@author",
        None,
        A,
        3,
        "That's a blanket statement. Free tutorials exist, but structure and deadlines are "
        "what many people pay for.",
    ),
    (
        "c",
        "b",
        "James",
        "james@example.org",
        A,
        5,
        "I keep saying the same to my friends. I finished one last year, and the structure was "
        "the whole point for me.",
    ),
    (
        "d",
        "c",
        "@author",
        None,
        A,
        6,
        "James, thanks for that. Would you mind sharing what you did in the months after "
        "graduating?",
    ),
    (
        "e",
        "d",
        "James",
        "james@example.org",
        A,
        8,
        "Mostly side projects. A timetable app for my club, then a small shop site for my "
        "cousin. That is what got me interviews.",
    ),
    (
        "f",
        None,
        "Mark",
        "mark@example.org",
        A,
        9,
        "I went through one of these programs and it changed my career. But I had to put in "
        "the hours afterwards.",
    ),
    (
        "g",
        None,
        "Anonymous",
        "anon2@example.net",
        A,
        12,
        "We have all benefited from cheaper ways to learn. The question is whether the fee "
        "buys anything the library doesn't.",
    ),
    (
        "h",
        "g",
        "Lena",
        "lena@example.com",
        A,
        14,
        "Mentors. That's what the fee buys. Whether that's worth it depends on the mentor.",
    ),
    (
        "i",
        "h",
        "Anonymous",
        "anon2@example.net",
        A,
        15,
        "Fair point. Mine were hit and miss.\n\nSome were brilliant, some read slides aloud.",
    ),
    (
        "j",
        "f",
        "Jonas",
        "jonas@example.com",
        P,
        20,
        "Mark, could you say which program? Asking for a friend.",
    ),
    (
        "k",
        None,
        "Cheap Watches",
        "promo@spam.example",
        S,
        21,
        "Great article!!! Visit http://spam.example/watches for deals.",
    ),
]

# One discussion per article, written for it: a reply answers its own article's
# comments, and a name a reply opens with is someone earlier in its thread.
NIGHT_BUS_THREADS = [
    (
        "a",
        None,
        "Olu",
        "olu@example.com",
        A,
        1,
        "Good overview. I'd add that the files are also missing wheelchair-accessibility flags.",
    ),
    (
        "b",
        "a",
        "Sam",
        "sam@example.com",
        A,
        3,
        "Agreed. See https://example.com/accessibility-notes for what other cities publish.",
    ),
    ("c", None, "Rita", "rita@example.com", A, 5, "Thanks for doing the legwork on this."),
    (
        "d",
        None,
        "New reader",
        "new@example.com",
        P,
        6,
        "First time commenting — is there a way to get alerts for updates?",
    ),
]

RSS_THREADS = [
    (
        "a",
        None,
        "Hannah",
        "hannah@example.com",
        A,
        2,
        "I never stopped using a feed reader. It is still the calmest way to follow forty sites.",
    ),
    (
        "b",
        "a",
        "Viktor",
        "viktor@example.com",
        A,
        4,
        "Hannah, which reader do you use? Mine stopped syncing last month.",
    ),
    (
        "c",
        "b",
        "@author",
        None,
        A,
        5,
        "Viktor, most readers import an OPML file, so moving your subscriptions takes a "
        "minute. The format itself is short enough to read in one sitting "
        "(https://www.rssboard.org/rss-specification).",
    ),
]

WIFI_THREADS = [
    (
        "a",
        None,
        "Ines",
        "ines@example.com",
        A,
        3,
        "Lunchtime peaks make sense: the parks are full of office workers then.",
    ),
]

NEWSROOM_THREADS = [
    (
        "a",
        None,
        "Dev",
        "dev@example.com",
        A,
        2,
        "Our local paper reopened its comments last year. The difference is that a person "
        "actually reads the queue.",
    ),
    (
        "b",
        "a",
        "Amira",
        "amira@example.com",
        A,
        4,
        "Dev, ours did too. Reporters answering questions under their own articles changed "
        "the tone more than any rule.",
    ),
]


def _add(article, parent, name, email, status, when, body, user=None):
    comment = Comment(
        article=article,
        author_name=name,
        author_email=email,
        user=user,
        body=body,
        status=status,
        created_at=when,
        ip_address="192.0.2.10",
        user_agent="seed_demo",
    )
    # Through the tree module like every other write: its lock, the parent re-read.
    return treewrites.insert(comment, parent=parent)


def _seed_article(article, entries, author):
    created = {}
    for key, parent_key, name, email, status, hours, body in entries:
        user = None
        if name == "@author":  # posted from the author's account: the "Author" badge
            name = author.get_full_name() or author.get_username()
            email, user = author.email, author
        parent = created.get(parent_key)
        created[key] = _add(
            article,
            parent,
            name,
            email,
            status,
            article.published_at + timedelta(hours=hours),
            body,
            user,
        )
    return len(created)


@transaction.atomic
def seed_discussions():
    """Add demo threads to demo articles that have no comments yet."""
    total = 0
    plans = {
        "coding-bootcamps-worth-it": DEEP_THREAD,
        "night-bus-timetables-go-open": NIGHT_BUS_THREADS,
        "the-quiet-return-of-rss": RSS_THREADS,
        "municipal-wifi-experiment": WIFI_THREADS,
        "local-newsrooms-and-comment-sections": NEWSROOM_THREADS,
    }
    for slug, entries in plans.items():
        article = Article.objects.filter(slug=slug).select_related("author").first()
        if article is None or article.comments.exists():
            continue
        total += _seed_article(article, entries, article.author)
        if slug == "coding-bootcamps-worth-it":
            # One editors' pick, so a fresh demo shows the featured section.
            reply = article.comments.filter(author_email="james@example.org").first()
            moderation.feature([reply], by=None)
    return total
