"""The top floor: leaderboards built from results records, their renderers, verify and aggregation."""
