"""Progress bars for long CLI jobs: one tqdm bar per stage, on stderr."""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator


@contextlib.contextmanager
def stage_progress(*, quiet: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """Yield progress(stage, done, total) for services; closes every bar at the end."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if quiet:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="row", file=sys.stderr, leave=True)
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()
