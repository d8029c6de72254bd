"""Atom feeds: new public resources, and any search's results (public fields only)."""
import re

from feedgen.feed import FeedGenerator
from flask import current_app, url_for

from portal.markdown import render_markdown

# Characters XML 1.0 cannot carry (lxml refuses them): a search typed with one must not be a 500.
_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str | None) -> str:
    return _NOT_IN_XML.sub("\ufffd", text or "")


def atom_feed(*, title: str, self_url: str, resources, now, include_bodies: bool) -> bytes:
    site = current_app.config["SITE_URL"]
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(_xml(title))
    feed.author({"name": "12 Million Calls Initiative"})
    feed.link(href=self_url, rel="self")
    feed.link(href=site + url_for("library.search"), rel="alternate")
    feed.language("en")
    feed.updated(max((r.published_at for r in resources), default=now))
    for resource in reversed(resources):  # feedgen prepends entries
        entry = feed.add_entry()
        link = site + url_for("library.detail", slug=resource.slug)
        entry.id(link)
        entry.title(_xml(resource.title))
        entry.link(href=link)
        entry.published(resource.published_at)
        entry.updated(max(resource.published_at, resource.updated_at))
        entry.summary(_xml(resource.summary or resource.title))
        for topic in resource.topics or []:
            entry.category(term=_xml(topic))
        if include_bodies and not resource.is_members_only(now):
            entry.content(_xml(str(render_markdown(resource.body))), type="html")
    return feed.atom_str(pretty=True)
