"""`fsbench sweep`: many independent `fsbench run` cells from one TOML file or one command line.

spec.py turns the file (or the plural flags) into cell specs, cells.py gives each cell its
identity hash and results path, backends.py runs cells in this process or on Ray, runner.py
skips finished cells, records failures and shows one progress view (docs/sweeps.md).
"""
