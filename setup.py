"""Package discovery that maps the top-level ``kernels/`` folder to ``landpulse._kernels``.

Everything else lives in pyproject.toml. A setup.py is needed only because setuptools' automatic
package discovery cannot add a package that lives outside ``src/``; the mapping itself is the
``[tool.setuptools.package-dir]`` table, which works for editable installs and wheels alike. Data
folders (sensor specs, the index catalogue, sample data) are found as namespace packages, so
setuptools ships them without a warning per folder.
"""

from setuptools import find_namespace_packages, setup

setup(packages=find_namespace_packages("src", include=["landpulse", "landpulse.*"]) + ["landpulse._kernels"])
