"""fsbench: a benchmark toolkit for signer-independent, low-shot fingerspelling recognition."""

__version__ = "0.1.0"
