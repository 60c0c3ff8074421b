"""ventes-pme pipeline: what runs the loader and dbt together (the dbt runner, shared by the
tests, the benchmarks and the documentation generator)."""
