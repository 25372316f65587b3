"""Search a STAC API (``/search``, paginated) through pystac-client.

What comes back is a list of item dictionaries as the API serves them (asset hrefs untouched:
``https://``/``s3://`` assets are read in place, :mod:`landpulse.io.remote`), ordered by datetime
then id, so a plan built from them is the same whatever page order the server used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from landpulse.errors import InputError, UnreadableInputError
from landpulse.io.remote import public_href


@dataclass(frozen=True)
class StacSearch:
    """One STAC API item search.

    Attributes
    ----------
    url : str
        The API's landing page (``https://earth-search.aws.element84.com/v1``).
    collections : sequence of str
    bbox : (west, south, east, north) in degrees, optional
    intersects : GeoJSON geometry (mapping), optional
        Exclusive with ``bbox``.
    datetime : str, optional
        A STAC datetime or interval (``2022-06-01/2022-06-30``, ``2022-06-01/..``).
    query : mapping, optional
        The query extension (``{"eo:cloud_cover": {"lt": 20}}``).
    filter : mapping or str, optional
        A CQL2 filter (CQL2-JSON mapping, searched by POST; or CQL2-text, searched by GET), for
        APIs with the filter extension.
    limit : int
        Page size asked of the server.
    max_items : int, optional
        Stop after this many items (default: all matches, every page).
    """

    url: str
    collections: Sequence[str] = ()
    bbox: tuple[float, float, float, float] | None = None
    intersects: Mapping[str, Any] | None = None
    datetime: str | None = None
    query: Mapping[str, Any] | None = None
    filter: Mapping[str, Any] | str | None = None
    limit: int = 100
    max_items: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def search_items(search: StacSearch) -> list[dict[str, Any]]:
    """Every item matching ``search`` (all pages), sorted by datetime and id.

    Raises
    ------
    InputError
        For a search that names both ``bbox`` and ``intersects``.
    UnreadableInputError
        When the API cannot be reached or answers with an error (the URL is named without its
        query string).
    """
    import pystac_client  # the STAC API client: only searches need it

    if search.bbox is not None and search.intersects is not None:
        raise InputError("a STAC search takes bbox or intersects, not both")
    try:
        client = pystac_client.Client.open(search.url, headers=dict(search.headers) or None)
        filter_lang = None
        if search.filter is not None:
            filter_lang = "cql2-text" if isinstance(search.filter, str) else "cql2-json"
        found = client.search(
            collections=list(search.collections) or None,
            bbox=list(search.bbox) if search.bbox else None,
            intersects=dict(search.intersects) if search.intersects else None,
            datetime=search.datetime,
            query=dict(search.query) if search.query else None,
            filter=search.filter if isinstance(search.filter, str) or search.filter is None else dict(search.filter),
            filter_lang=filter_lang,
            limit=search.limit,
            max_items=search.max_items,
            # CQL2-text travels in the query string (a POST body takes CQL2-JSON only)
            method="GET" if isinstance(search.filter, str) else "POST",
        )
        items = [dict(i) for i in found.items_as_dicts()]
    except (OSError, pystac_client.exceptions.APIError, ValueError) as err:
        raise UnreadableInputError(f"STAC API search at {public_href(search.url)} failed: {err}") from err
    return sorted(items, key=lambda i: (str((i.get("properties") or {}).get("datetime")), str(i.get("id"))))
