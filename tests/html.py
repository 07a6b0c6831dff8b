"""Parsing helpers for tests: assert on the page as a reader's browser would parse it."""

import html5lib

NS = {"h": "http://www.w3.org/1999/xhtml"}


def parse(response_or_html):
    content = getattr(response_or_html, "content", response_or_html)
    return html5lib.parse(content, namespaceHTMLElements=True)


def text_of(element):
    return " ".join("".join(element.itertext()).split())


def classes(element):
    return set((element.get("class") or "").split())


def comment_items(doc):
    """Every ``li.comment`` of the comment list, in document order."""
    return [li for li in doc.iter(f"{{{NS['h']}}}li") if "comment" in classes(li)]


def comment_ids(doc):
    return [li.get("id") for li in comment_items(doc)]


def parent_comment_map(doc):
    """``{li id: id of the enclosing li.comment or None}`` as the browser nests them."""
    mapping = {}

    def walk(element, current):
        for child in element:
            if child.tag == f"{{{NS['h']}}}li" and "comment" in classes(child):
                mapping[child.get("id")] = current
                walk(child, child.get("id"))
            else:
                walk(child, current)

    walk(doc, None)
    return mapping


def comments_section(doc):
    return doc.find(".//h:section[@id='comments']", NS)
