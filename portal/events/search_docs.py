"""What the webinar series puts in the search index."""


def reindex(event) -> None:
    pass
