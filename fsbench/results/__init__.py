"""The results document (schema, provenance, atomic write), leaderboards and their renderers."""
