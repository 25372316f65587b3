"""Package discovery that maps the top-level ``kernels/`` folder to ``landpulse._kernels``.

Everything else lives in pyproject.toml. A setup.py is needed only because setuptools' automatic
package discovery cannot add a package that lives outside ``src/``; the mapping itself is the
``[tool.setuptools.package-dir]`` table, which works for editable installs and wheels alike.
"""

from setuptools import find_packages, setup

setup(packages=find_packages("src") + ["landpulse._kernels"])
