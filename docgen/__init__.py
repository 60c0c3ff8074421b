"""Generators of the committed documentation in docs/: the data profile (qualification of the
feeds), the database schema and ``publish``, which rebuilds them all from the client's feeds.
Developer tools: nothing at run time depends on them (what the client reads is in report/)."""
