"""The product browser: one static, self-contained page over a product store's STAC catalogue.

``landpulse browse STORE`` (or ``output.browse: true`` in a job spec) writes ``<store>/browse/``:
``index.html`` (open it from ``file://`` or any static web server), ``items.geojson`` (the one
index file) and ``items.js`` (the same index as a script, for ``file://``). The map is landpulse's
own canvas over Web Mercator: no third-party code, and it works offline.
"""

from landpulse.browse.catalogue import CatalogueIndex, asset_kind, read_catalogue
from landpulse.browse.legend import product_legend
from landpulse.browse.site import OSM_BASEMAP, SITE_DIR, Site, render_page, write_site

__all__ = ["OSM_BASEMAP", "SITE_DIR", "CatalogueIndex", "Site", "asset_kind", "product_legend", "read_catalogue",
           "render_page", "write_site"]
