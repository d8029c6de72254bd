"""Atom feeds: new public resources, and any search's results (public fields only)."""
from feedgen.feed import FeedGenerator
from flask import current_app, url_for

from portal.markdown import render_markdown


def atom_feed(*, title: str, self_url: str, resources, now, include_bodies: bool) -> bytes:
    site = current_app.config["SITE_URL"]
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(title)
    feed.author({"name": "12 Million Calls Initiative"})
    feed.link(href=self_url, rel="self")
    feed.link(href=site + url_for("library.search"), rel="alternate")
    feed.language("en")
    feed.updated(max((r.published_at for r in resources), default=now))
    for resource in reversed(resources):  # feedgen prepends entries
        entry = feed.add_entry()
        link = site + url_for("library.detail", slug=resource.slug)
        entry.id(link)
        entry.title(resource.title)
        entry.link(href=link)
        entry.published(resource.published_at)
        entry.updated(max(resource.published_at, resource.updated_at))
        entry.summary(resource.summary or resource.title)
        for topic in resource.topics or []:
            entry.category(term=topic)
        if include_bodies and not resource.is_members_only(now):
            entry.content(str(render_markdown(resource.body)), type="html")
    return feed.atom_str(pretty=True)
