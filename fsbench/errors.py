"""User-facing errors: one line that names the thing and the fix.

The CLI turns every `FsbenchError` into that line and exit code 2, so nothing in the toolkit
should let a deep torch/datasets traceback reach a user for input they got wrong.
"""

from __future__ import annotations


class FsbenchError(Exception):
    """An error caused by the user's input or environment, with a fix in the message."""


class UnknownPluginError(FsbenchError, KeyError):
    """A name that no installed plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DatasetError(FsbenchError):
    """A dataset folder, file or card that is missing or malformed."""


class ProtocolError(FsbenchError):
    """A split/episode request the dataset cannot honour (e.g. S=0 on unseen classes)."""


class ResultsError(FsbenchError):
    """A results file or leaderboard that is corrupt, schema-invalid or incompatible."""


class HubError(DatasetError):
    """A Hub (dataset) repository, revision or server that cannot be reached or lacks what was asked for."""
