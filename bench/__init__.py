"""Benchmarks: ``make bench`` runs them all and prints figures against peers measured in the same run."""
