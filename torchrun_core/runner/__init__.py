"""The Runner: an app's way through ``dryrun → schedule → status / wait → cancel``.

``Runner`` (in ``api``) is composed of one part per concern, each a class in
its own module, over ``base.RunnerBase`` (the store, the registry, the
scheduler pool):

- ``submission``: dryrun, schedule, run, components; the layer the others build on;
- ``observation``: status, describe, log_lines;
- ``control``: wait and cancel; ``queries``: list, events, delete;
- ``rerun``: runs again from a recorded run; ``bulk``: run_many and the futures pool;
- ``tracking``: what jobs reported (metrics, checkpoints);
- ``futures``: the non-blocking twins of the calls (``runner.futures``).

Below them: ``calls`` (events and error translation), ``state_sync``,
``write_ahead``, ``scheduler_pool``, ``workspace`` and ``outage``.
"""

from __future__ import annotations

from torchrun_core._lazy import lazy_getattr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from torchrun_core.runner.api import MAX_WATCH_S, Runner, get_runner

__all__ = ["MAX_WATCH_S", "Runner", "get_runner"]

__getattr__ = lazy_getattr(
    __name__,
    {name: "torchrun_core.runner.api" for name in ("MAX_WATCH_S", "Runner", "get_runner")},
)
