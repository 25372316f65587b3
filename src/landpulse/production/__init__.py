"""Production: job specs, plans, unit execution, commits, the ledger, clusters, runs and reports.

Over the products and io, never under them: a run is :func:`~landpulse.production.run.run_job` of a
:class:`~landpulse.production.jobspec.JobSpec` (a YAML job, or the one-off job
:func:`~landpulse.production.run.run_store` makes for one scene store). Its plan
(:mod:`~landpulse.production.plan`) lists units (one product on one tile for one acquisition
time); each unit is computed and committed by :func:`~landpulse.production.units.run_unit`
through :mod:`~landpulse.production.commit`, recorded in the ledger
(:mod:`~landpulse.production.ledger`: the units' STAC items), and the run is described by one
report (:mod:`~landpulse.production.report`).
"""
