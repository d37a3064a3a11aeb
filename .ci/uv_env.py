"""pip's index settings (`pip config list` on stdin) as `export UV_...=...` lines for bash.

uv reads neither pip.conf nor PIP_* variables; .ci/setup hands it the same indexes, find-links
and constraints so both installers see the same packages.
"""

import shlex
import sys

UV = {"index-url": "UV_INDEX_URL", "extra-index-url": "UV_EXTRA_INDEX_URL", "find-links": "UV_FIND_LINKS",
      "constraint": "UV_CONSTRAINT"}

for line in sys.stdin:
    key, _, value = line.strip().partition("=")
    name = UV.get(key.rsplit(".", 1)[-1])
    if name:  # later scopes (environment) override earlier ones (global), as in pip
        print(f"export {name}={shlex.quote(value.strip(chr(39) + chr(34)).replace(chr(92) + 'n', ' '))}")
