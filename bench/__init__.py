"""Benchmarks: each module measures ours against the real ovsdb-server in the same run
and prints ratios.  ``python -m bench [NAME...]`` runs them (``make bench``)."""
