"""Benchmarks: ``make bench`` runs them all, with peers measured in the same run."""
