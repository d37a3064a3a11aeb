"""The results record every stage may import: the typed document, its schema I/O, provenance,
the S keys and the statistics it is built from. Nothing here imports a stage above it."""
