"""The Scheduler base class's template methods, driven by a small in-memory scheduler."""

from __future__ import annotations

import builtins
import itertools
import time
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import pytest
from pydantic import Field

from torchrun_core.errors import AppNotFoundError, InvalidInputError, InvalidOptionError
from torchrun_core.scheduler import (
    ListedApp,
    OptionInfo,
    Scheduler,
    SchedulerOptions,
    Stream,
    Watcher,
)
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus


class MemOptions(SchedulerOptions):
    retries: int = Field(default=0, ge=0, description="how often to retry")
    queue: str = Field(default="default", description="which queue")
    tags: list[str] = Field(default_factory=list, description="labels for the app")
    mode: Literal["fast", "slow"] = Field(default="fast", description="speed")
    limit: int | None = Field(default=None, description="max replicas")


class RequiredOptions(SchedulerOptions):
    account: str = Field(description="who pays")


class MemScheduler(Scheduler[MemOptions]):
    """Keeps apps in a dict; records every call to the abstract methods."""

    Options: ClassVar[type[SchedulerOptions]] = MemOptions

    def __init__(self, name: str = "mem", session: str = "test") -> None:
        super().__init__(name, session)
        self.apps: dict[str, AppStatus] = {}
        self.logs: dict[tuple[str, str, int], builtins.list[str]] = {}
        self.calls: builtins.list[tuple[str, Any]] = []
        self._ids = itertools.count()
        self.refuse: str | None = None

    def _validate(self, app: AppDef, options: MemOptions) -> None:
        self.calls.append(("validate", options))
        if self.refuse and self.refuse in app.role_names:
            raise InvalidInputError(f"{self.name} cannot run role {self.refuse!r}")

    def _dryrun(self, app: AppDef, options: MemOptions) -> AppDryRunInfo[Any]:
        self.calls.append(("dryrun", options))
        request = {"app": app.name, "queue": options.queue}
        return AppDryRunInfo(request, app, self.name, self.session, options)

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        self.calls.append(("schedule", dryrun_info.request))
        app_id = f"{dryrun_info.app.name}-{next(self._ids)}"
        self.apps[app_id] = AppStatus(state=AppState.RUNNING)
        return app_id

    def _describe(self, app_id: str) -> AppStatus | None:
        return self.apps.get(app_id)

    def _cancel(self, app_id: str) -> None:
        self.calls.append(("cancel", app_id))
        self.apps[app_id] = AppStatus(state=AppState.CANCELLED)

    def _list(self) -> builtins.list[ListedApp]:
        return [ListedApp(app_id, status.state) for app_id, status in self.apps.items()]

    def _log_iter(
        self,
        app_id: str,
        role_name: str,
        k: int,
        since: float | None,
        until: float | None,
        should_tail: bool,
        streams: Stream,
        attempt: int | None,
    ) -> Iterator[str]:
        self.calls.append(
            ("log_iter", (app_id, role_name, k, since, until, should_tail, streams, attempt))
        )
        yield from self.logs.get((app_id, role_name, k), [])

    def names_called(self) -> builtins.list[str]:
        return [name for name, _ in self.calls]


APP = AppDef(name="job", roles=[Role(name="trainer", entrypoint="python")])


@pytest.fixture
def sched() -> MemScheduler:
    return MemScheduler()


# -- options ------------------------------------------------------------------------


def test_run_opts_lists_every_option_with_type_default_and_help() -> None:
    opts = {o.name: o for o in MemScheduler.run_opts()}
    assert list(opts) == ["retries", "queue", "tags", "mode", "limit"]
    assert opts["retries"] == OptionInfo("retries", "int", 0, False, "how often to retry")
    assert opts["queue"] == OptionInfo("queue", "str", "default", False, "which queue")
    assert opts["tags"] == OptionInfo("tags", "list[str]", [], False, "labels for the app")
    assert opts["mode"] == OptionInfo("mode", "Literal['fast', 'slow']", "fast", False, "speed")
    assert opts["limit"] == OptionInfo("limit", "int | None", None, False, "max replicas")


def test_run_opts_marks_required_options() -> None:
    class Needs(MemScheduler):
        Options = RequiredOptions

    [info] = Needs.run_opts()
    assert info == OptionInfo("account", "str", None, True, "who pays")


def test_run_opts_of_the_base_options_is_empty() -> None:
    class Bare(MemScheduler):
        Options = SchedulerOptions

    assert Bare.run_opts() == []


@pytest.mark.parametrize("cfg", [None, {}])
def test_parse_options_defaults(sched: MemScheduler, cfg: dict[str, Any] | None) -> None:
    assert sched.parse_options(cfg) == MemOptions()


def test_parse_options_converts_cli_strings(sched: MemScheduler) -> None:
    opts = sched.parse_options({"retries": "3", "queue": "gpu", "limit": "2"})
    assert (opts.retries, opts.queue, opts.limit) == (3, "gpu", 2)


def test_parse_options_passes_an_options_object_through(sched: MemScheduler) -> None:
    opts = MemOptions(queue="q")
    assert sched.parse_options(opts) is opts


def test_unknown_option_is_named(sched: MemScheduler) -> None:
    with pytest.raises(InvalidOptionError) as info:
        sched.parse_options({"queue": "q", "colour": "red"})
    err = info.value
    assert "'colour'" in str(err)
    assert "unknown option" in str(err)
    assert "mem" in str(err)
    assert err.option == "colour"  # type: ignore[attr-defined]
    assert err.scheduler == "mem"  # type: ignore[attr-defined]
    assert err.hint is not None and "runopts mem" in err.hint
    assert err.exit_code == 2


@pytest.mark.parametrize(
    ("cfg", "option"),
    [
        ({"retries": "many"}, "retries"),
        ({"retries": -1}, "retries"),
        ({"mode": "medium"}, "mode"),
        ({"tags": "a"}, "tags"),
        ({"limit": 1.5}, "limit"),
    ],
)
def test_bad_option_value_is_named(sched: MemScheduler, cfg: dict[str, Any], option: str) -> None:
    with pytest.raises(InvalidOptionError) as info:
        sched.parse_options(cfg)
    assert f"'{option}'" in str(info.value)
    assert info.value.option == option  # type: ignore[attr-defined]


def test_missing_required_option_is_named() -> None:
    class Needs(MemScheduler):
        Options = RequiredOptions

    with pytest.raises(InvalidOptionError, match="'account'"):
        Needs().parse_options({})


def test_options_are_frozen(sched: MemScheduler) -> None:
    opts = sched.parse_options({})
    with pytest.raises(ValueError):
        opts.queue = "x"  # type: ignore[misc]


# -- dryrun / schedule / submit ---------------------------------------------------


def test_dryrun_parses_options_validates_and_builds_the_request(sched: MemScheduler) -> None:
    info = sched.dryrun(APP, {"queue": "gpu"})
    assert info.request == {"app": "job", "queue": "gpu"}
    assert (info.scheduler, info.session, info.app) == ("mem", "test", APP)
    assert sched.names_called() == ["validate", "dryrun"]
    assert sched.apps == {}  # a dry run submits nothing


def test_dryrun_with_bad_options_fails_before_the_engine(sched: MemScheduler) -> None:
    with pytest.raises(InvalidOptionError):
        sched.dryrun(APP, {"nope": 1})
    assert sched.calls == []


def test_dryrun_rejects_an_app_the_scheduler_cannot_run(sched: MemScheduler) -> None:
    sched.refuse = "trainer"
    with pytest.raises(InvalidInputError, match="trainer"):
        sched.dryrun(APP)
    assert "dryrun" not in sched.names_called()


def test_schedule_submits_exactly_the_dry_run_request(sched: MemScheduler) -> None:
    info = sched.dryrun(APP, {"queue": "gpu"})
    app_id = sched.schedule(info)
    assert sched.calls[-1] == ("schedule", {"app": "job", "queue": "gpu"})
    assert sched.exists(app_id)


def test_schedule_refuses_a_dry_run_made_for_another_scheduler(sched: MemScheduler) -> None:
    info = MemScheduler(name="other").dryrun(APP)
    with pytest.raises(InvalidInputError) as err:
        sched.schedule(info)
    assert "'other'" in str(err.value) and "'mem'" in str(err.value)
    assert "schedule" not in sched.names_called()
    assert sched.apps == {}


def test_submit_is_dryrun_then_schedule(sched: MemScheduler) -> None:
    app_id = sched.submit(APP, {"retries": 1})
    assert sched.names_called() == ["validate", "dryrun", "schedule"]
    assert sched.describe(app_id) == AppStatus(state=AppState.RUNNING)


# -- observation ------------------------------------------------------------------


def test_describe_and_exists_for_unknown_apps(sched: MemScheduler) -> None:
    assert sched.describe("ghost") is None
    assert not sched.exists("ghost")


def test_list_reports_apps(sched: MemScheduler) -> None:
    a, b = sched.submit(APP), sched.submit(APP)
    sched.cancel(b)
    assert sched.list() == [ListedApp(a, AppState.RUNNING), ListedApp(b, AppState.CANCELLED)]


def test_log_iter_unknown_app_raises_at_call_time(sched: MemScheduler) -> None:
    with pytest.raises(AppNotFoundError) as info:
        sched.log_iter("ghost", "trainer")  # no next(): raising must not wait for iteration
    assert "ghost" in str(info.value)
    assert info.value.app_id == "ghost"  # type: ignore[attr-defined]
    assert "log_iter" not in sched.names_called()


def test_log_iter_yields_lines_in_order_and_passes_arguments(sched: MemScheduler) -> None:
    app_id = sched.submit(APP)
    sched.logs[(app_id, "trainer", 1)] = ["a\n", "b\n", "c\n"]
    lines = sched.log_iter(
        app_id,
        "trainer",
        k=1,
        since=1.0,
        until=2.0,
        should_tail=True,
        streams=Stream.STDERR,
        attempt=2,
    )
    assert list(lines) == ["a\n", "b\n", "c\n"]
    assert sched.calls[-1] == ("log_iter", (app_id, "trainer", 1, 1.0, 2.0, True, Stream.STDERR, 2))


def test_log_iter_reads_combined_streams_by_default(sched: MemScheduler) -> None:
    app_id = sched.submit(APP)
    list(sched.log_iter(app_id, "trainer"))
    assert sched.calls[-1] == (
        "log_iter",
        (app_id, "trainer", 0, None, None, False, Stream.COMBINED, None),
    )


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (None, ["step 1 loss=3\n", "eval acc=0.5\n", "step 2 loss=2\n", "done\n"]),
        ("", ["step 1 loss=3\n", "eval acc=0.5\n", "step 2 loss=2\n", "done\n"]),
        ("loss", ["step 1 loss=3\n", "step 2 loss=2\n"]),
        (r"^step \d", ["step 1 loss=3\n", "step 2 loss=2\n"]),
        (r"acc=\d\.\d$", ["eval acc=0.5\n"]),
        ("nothing-matches", []),
    ],
)
def test_log_iter_regex_filters_lines(
    sched: MemScheduler, regex: str | None, expected: list[str]
) -> None:
    app_id = sched.submit(APP)
    sched.logs[(app_id, "trainer", 0)] = [
        "step 1 loss=3\n",
        "eval acc=0.5\n",
        "step 2 loss=2\n",
        "done\n",
    ]
    assert list(sched.log_iter(app_id, "trainer", regex=regex)) == expected


@pytest.mark.parametrize("regex", ["(", "[a-", "*x"])
def test_log_iter_invalid_regex_is_invalid_input(sched: MemScheduler, regex: str) -> None:
    app_id = sched.submit(APP)
    with pytest.raises(InvalidInputError) as info:
        sched.log_iter(app_id, "trainer", regex=regex)
    assert repr(regex) in str(info.value)
    assert info.value.exit_code == 2


def test_stream_values() -> None:
    assert [s.value for s in Stream] == ["stdout", "stderr", "combined"]
    assert Stream("stderr") is Stream.STDERR


# -- control ---------------------------------------------------------------------


def test_cancel_running_app_then_again_is_idempotent(sched: MemScheduler) -> None:
    app_id = sched.submit(APP)
    sched.cancel(app_id)
    sched.cancel(app_id)
    assert sched.names_called().count("cancel") == 1
    assert sched.describe(app_id) == AppStatus(state=AppState.CANCELLED)


@pytest.mark.parametrize("state", [AppState.SUCCEEDED, AppState.FAILED, AppState.CANCELLED])
def test_cancel_of_a_finished_app_does_nothing(sched: MemScheduler, state: AppState) -> None:
    app_id = sched.submit(APP)
    sched.apps[app_id] = AppStatus(state=state)
    sched.cancel(app_id)
    assert "cancel" not in sched.names_called()
    assert sched.apps[app_id].state is state


@pytest.mark.parametrize("state", [AppState.PENDING, AppState.SUBMITTED, AppState.UNKNOWN])
def test_cancel_of_a_live_or_unknown_state_app_cancels(
    sched: MemScheduler, state: AppState
) -> None:
    app_id = sched.submit(APP)
    sched.apps[app_id] = AppStatus(state=state)
    sched.cancel(app_id)
    assert sched.calls[-1] == ("cancel", app_id)


def test_cancel_unknown_app_raises(sched: MemScheduler) -> None:
    with pytest.raises(AppNotFoundError) as info:
        sched.cancel("ghost")
    assert "ghost" in str(info.value)
    assert "cancel" not in sched.names_called()


def test_close_is_safe_to_call_twice(sched: MemScheduler) -> None:
    sched.close()
    sched.close()


def test_a_scheduler_must_implement_the_engine_methods() -> None:
    class Half(Scheduler[MemOptions]):
        def _dryrun(self, app: AppDef, options: MemOptions) -> AppDryRunInfo[Any]:
            raise NotImplementedError

    with pytest.raises(TypeError, match="abstract"):
        Half("half", "s")  # type: ignore[abstract]


# -- watching --------------------------------------------------------------------


def test_default_watch_gives_a_watcher_that_returns(sched: MemScheduler) -> None:
    app_id = sched.submit(APP)
    with sched.watch(app_id) as watcher:
        assert isinstance(watcher, Watcher)
        watcher.wait(0.0)  # must return, not block
        watcher.wait(0.01)


def test_watcher_never_sleeps_past_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    watcher = Watcher(first_delay=0.5, max_delay=2.0)
    watcher.wait(0.1)  # timeout below the delay: sleeps only the timeout
    watcher.wait(10.0)  # backoff doubles...
    watcher.wait(10.0)
    watcher.wait(10.0)  # ...up to max_delay
    watcher.wait(-5.0)  # a negative timeout never sleeps
    assert slept == [0.1, 1.0, 2.0, 2.0, 0.0]
