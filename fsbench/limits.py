"""Upper bounds on what a user may ask for, in one place so the CLI, sweep files and the Python API agree.

Each bound is far above any real use and far below what exhausts the machine before a first
result; a request past one is refused before any work, in one line that states the size asked for.
"""

from __future__ import annotations

#: seeds are 32-bit: numpy's RandomState and many plugins take no more (torch overflowed at 2**64)
MAX_SEED = 2**32 - 1
#: cells of one sweep (a 2.55-million-cell grid was accepted in silence); split bigger sweeps into files
MAX_CELLS = 10_000
#: image indices (support + queries) one run's episodes may hold: 5e7 int64 ≈ 400 MB, ~10 000 Massey
#: leave-signer-out episodes at each of two S; boards use 10–100
MAX_EPISODE_ROWS = 50_000_000
#: episodes per S and episode group: each holds at least two rows (two classes, one query each), so
#: more could never pass `MAX_EPISODE_ROWS` on any dataset; checked without loading one (sweep --dry-run)
MAX_EPISODES = MAX_EPISODE_ROWS // 2
#: side in pixels of a prepared image (`prepare folder --size`): 0 found "no images", 100 000 was OOM-killed
IMAGE_SIDE = (8, 1024)
#: classes one confusion figure draws (`fsbench report`): Omniglot's largest run queries ~1 600; a
#: 16-inch figure has fewer pixels than 4 096 rows, and the matrix grows with the square
MAX_FIGURE_CLASSES = 4096
