"""Streaming, safe reading of a Disqus XML export.

defusedxml's ``iterparse`` refuses entity declarations and external references. Each
top-level ``<thread>`` and ``<post>`` is turned into a small record when its end tag
is read, then the tree is cleared, so memory holds the records, never the XML.

The export's elements are in the ``http://disqus.com`` namespace; its ids are
``dsq:id`` attributes (``http://disqus.com/disqus-internals``): any attribute named
``id`` is taken, whatever its namespace.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, iterparse

NAMESPACE = "http://disqus.com"
ROOT = f"{{{NAMESPACE}}}disqus"
THREAD = f"{{{NAMESPACE}}}thread"
POST = f"{{{NAMESPACE}}}post"


class DisqusError(Exception):
    """A file that can't be imported; the message says where and why."""


@dataclass(slots=True)
class Thread:
    dsq_id: str
    forum: str
    link: str
    identifier: str
    title: str


@dataclass(slots=True)
class Post:
    dsq_id: str
    thread: str
    parent: str  # "" when not a reply
    name: str
    email: str
    username: str
    ip: str
    created_at: datetime | None
    spam: bool
    deleted: bool
    message: str  # HTML


def _tag(name):
    return f"{{{NAMESPACE}}}{name}"


def _dsq_id(element):
    if element is None:
        return ""
    for name, value in element.attrib.items():
        if name == "id" or name.endswith("}id"):
            return value.strip()
    return ""


def _text(element, *path):
    for name in path:
        if element is None:
            return ""
        element = element.find(_tag(name))
    return (element.text or "").strip() if element is not None else ""


def _flag(element, name):
    return _text(element, name).lower() == "true"


def _date(value, what):
    if not value:
        return None
    try:
        date = datetime.fromisoformat(value)
    except ValueError:
        raise DisqusError(f"{what}: <createdAt> is {value!r}, not a date") from None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


class _Counting:
    """A binary file that reports how many bytes were read."""

    def __init__(self, fileobj, on_progress):
        self.fileobj = fileobj
        self.on_progress = on_progress

    def read(self, size=-1):
        try:
            chunk = self.fileobj.read(size)
        except OSError as error:
            raise DisqusError(f"can't read it ({error.strerror or error})") from None
        if chunk and self.on_progress:
            self.on_progress(len(chunk))
        return chunk


def read_disqus(fileobj, *, on_progress=None):
    """Yield the ``Thread`` and ``Post`` records of a Disqus export, in file order.

    Raises ``DisqusError`` for malformed or unsafe XML and for files that aren't
    Disqus exports."""
    events = iterparse(_Counting(fileobj, on_progress), events=("start", "end"))
    root = None
    depth = 0
    try:
        for event, element in events:
            if event == "start":
                if root is None:
                    root = element
                    if element.tag != ROOT:
                        shown = element.tag.rpartition("}")[2]
                        raise DisqusError(
                            f"<{shown}> is not a Disqus export (expected <disqus> in the "
                            f"{NAMESPACE} namespace)"
                        )
                depth += 1
                continue
            depth -= 1
            if depth != 1:
                continue
            if element.tag == THREAD:
                yield Thread(
                    dsq_id=_dsq_id(element),
                    forum=_text(element, "forum"),
                    link=_text(element, "link"),
                    identifier=_text(element, "id"),
                    title=_text(element, "title"),
                )
            elif element.tag == POST:
                dsq_id = _dsq_id(element)
                author = element.find(_tag("author"))
                yield Post(
                    dsq_id=dsq_id,
                    thread=_dsq_id(element.find(_tag("thread"))),
                    parent=_dsq_id(element.find(_tag("parent"))),
                    name=_text(author, "name"),
                    email=_text(author, "email"),
                    username=_text(author, "username"),
                    ip=_text(element, "ipAddress"),
                    created_at=_date(_text(element, "createdAt"), f"post {dsq_id}"),
                    spam=_flag(element, "isSpam"),
                    deleted=_flag(element, "isDeleted"),
                    message=_text(element, "message"),
                )
            root.clear()
    except ParseError as error:
        line, column = error.position
        message = str(error).split(":")[0]
        raise DisqusError(f"line {line}, column {column}: {message}") from None
    except DefusedXmlException as error:
        raise DisqusError(f"refused unsafe XML ({error})") from None
    if root is None:
        raise DisqusError("the file is empty")
