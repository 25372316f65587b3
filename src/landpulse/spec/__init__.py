"""Domain data, no code paths: sensors and their bands, the spectral-index catalogue and its
formula language, the radiometric contract (scale, offset, nodata) and saturation rules.

The sensors (``sensor_specs/*.json``) and the indices (``index_specs/indices.json``) are data
files; adding one is a data change. Nothing here imports the products or production.
"""
