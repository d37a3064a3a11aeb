"""User-facing errors: one line that names the thing and the fix.

The CLI turns every `FsbenchError` into that line and exit code 2, so nothing in the toolkit
should let a deep torch/datasets traceback reach a user for input they got wrong.
"""

from __future__ import annotations

import errno

#: OS errors about where fsbench writes (a full disk or quota, a file-size limit, a read-only
#: file system): the environment's fault, whatever library they surface through
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


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


def os_cause(exc: BaseException | None) -> OSError | None:
    """The environment OSError (`ENVIRONMENT_ERRNOS`) that `exc` is or was raised from or during.

    Libraries wrap a failed write in their own exceptions (torch.save's RuntimeError, datasets'
    DatasetGenerationError) and keep the OSError only as `__cause__`/`__context__`; without this, a
    full disk was blamed on the method's authors or on the dataset.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
