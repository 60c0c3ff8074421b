"""ventes-pme's live system: the refresh service (``python -m pipeline run | watch | health``),
the storage service with the French dashboard (``python -m pipeline serve``), and the dbt runner
shared by the tests, the benchmarks and the documentation generator."""
