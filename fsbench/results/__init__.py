"""Moved: `fsbench.results.*` was split into `fsbench.record` (the results document: document,
integrity) and `fsbench.boards` (leaderboard, render, verify, aggregate, tables, admission).
Each old module here warns (DeprecationWarning) and serves the moved names until fsbench 0.2.0."""
