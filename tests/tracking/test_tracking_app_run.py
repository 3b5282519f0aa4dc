"""AppRun: fan-out to every configured backend, the no-op path, broken backends, validation."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from torchrun_core.errors import InvalidInputError
from torchrun_core.hookspecs import hookimpl
from torchrun_core.registry import PluginRegistry, load_plugins
from torchrun_core.tracking import AppRun, RunContext, TrackingWarning

HANDLE = "local://default/app-1"


class Recorder:
    """A backend keeping every call, to check the fan-out."""

    def __init__(self, config: str | None) -> None:
        self.config = config
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args: self.calls.append((method, args))


class Broken(Recorder):
    def log_metric(self, *args: Any) -> None:
        raise OSError("disk full")


made: dict[str, Recorder] = {}


class TestTrackers:
    @hookimpl
    def torchrun_core_trackers(self) -> Mapping[str, Any]:
        def factory(cls: type[Recorder], name: str) -> Any:
            def make(config: str | None) -> Recorder:
                made[name] = cls(config)
                return made[name]

            return make

        def refuse(config: str | None) -> Recorder:
            raise RuntimeError("no server")

        return {
            "rec-a": factory(Recorder, "rec-a"),
            "rec-b": factory(Recorder, "rec-b"),
            "broken": factory(Broken, "broken"),
            "refuses": refuse,
        }


@pytest.fixture
def registry() -> PluginRegistry:
    made.clear()
    loaded = load_plugins()
    loaded.register(TestTrackers(), name="test-trackers")
    return loaded


def job_env(trackers: str, **extra: str) -> dict[str, str]:
    return {
        "TORCHRUN_CORE_APP_HANDLE": HANDLE,
        "TORCHRUN_CORE_PARENT_RUN_ID": "local://default/parent",
        "TORCHRUN_CORE_ROLE": "trainer",
        "TORCHRUN_CORE_REPLICA_ID": "3",
        "TORCHRUN_CORE_TRACKERS": trackers,
        **extra,
    }


def test_every_call_fans_out_to_every_backend(registry: PluginRegistry) -> None:
    env = job_env("rec-a,rec-b", TORCHRUN_CORE_TRACKER_REC_A_CONFIG="/a")
    with AppRun.from_env(env, registry) as run:
        assert run.handle == HANDLE and run.parent_run_id == "local://default/parent"
        assert run.trackers == ["rec-a", "rec-b"]
        run.log_params({"lr": 0.1})
        run.log_metric("loss", 1, step=2)
        run.log_metrics({"acc": 0.5, "f1": 0.25}, step=3)
        run.report_progress("train", 5, 10, "steps")
        run.log_checkpoint("/ck/5.pt", step=5, complete=False)
        run.log_artifact("model", "/out/model.bin", metadata={"size": 3})
        run.add_source("local://default/data-prep", kind="run")
    assert made["rec-a"].config == "/a" and made["rec-b"].config is None
    for backend in (made["rec-a"], made["rec-b"]):
        methods = [method for method, _ in backend.calls]
        assert methods == [
            "start", "log_params", "log_metric", "log_metrics", "report_progress",
            "log_artifact", "log_artifact", "add_source", "close",
        ]  # fmt: skip
        calls = dict(backend.calls[:5])
        context = calls["start"][0]
        assert isinstance(context, RunContext)
        assert (context.role, context.replica_id, context.source) == ("trainer", "3", "trainer/3")
        assert calls["log_metric"][:3] == ("loss", 1.0, 2)
        assert isinstance(calls["log_metric"][1], float)
        assert calls["log_metrics"][:2] == ({"acc": 0.5, "f1": 0.25}, 3)
        assert calls["report_progress"][:4] == ("train", 5.0, 10.0, "steps")
        checkpoint = backend.calls[5][1][0]
        assert checkpoint["kind"] == "checkpoint" and checkpoint["c"] is False
        assert checkpoint["s"] == 5


def test_outside_a_job_every_call_is_a_no_op_with_one_warning() -> None:
    with pytest.warns(TrackingWarning, match="TORCHRUN_CORE_APP_HANDLE is not set"):
        run = AppRun.from_env({})
    assert not run.enabled and run.handle == ""
    run.log_metric("loss", 0.5, step=1)
    run.log_params({"a": 1})
    run.report_progress("x", 1)
    run.log_checkpoint("/c", 1)
    run.flush()
    run.close()
    run.close()


def test_unknown_refusing_and_failing_backends_only_warn(registry: PluginRegistry) -> None:
    with pytest.warns(TrackingWarning) as warned:
        run = AppRun.from_env(job_env("nope,refuses,broken,rec-a"), registry)
        assert run.trackers == ["broken", "rec-a"]
        run.log_metric("loss", 0.5)  # broken raises here: dropped, rec-a still gets it
        run.log_metric("loss", 0.25)
        run.close()
    messages = [str(w.message) for w in warned]
    assert any("'nope' is not installed" in m for m in messages)
    assert any("'refuses' cannot be used: RuntimeError: no server" in m for m in messages)
    assert any("'broken' failed in log_metric" in m and "disk full" in m for m in messages)
    assert run.trackers == []
    metric_calls = [args for method, args in made["rec-a"].calls if method == "log_metric"]
    assert [args[1] for args in metric_calls] == [0.5, 0.25]
    assert "log_metric" not in [m for m, _ in made["broken"].calls]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda run: run.log_metric("loss", "0.5"), "must be a number"),
        (lambda run: run.log_metric("loss", None), "must be a number"),
        (lambda run: run.log_metric("", 1.0), "non-empty string"),
        (lambda run: run.log_metric("loss", 1.0, step=-1), "step must be >= 0"),
        (lambda run: run.log_metric("loss", 1.0, step=1.5), "step must be an int"),
        (lambda run: run.log_metrics({"a": object()}), "must be a number"),
        (lambda run: run.report_progress("x", 1, units=3), "units must be a string"),
        (lambda run: run.log_params(["a"]), "must be a mapping"),
        (lambda run: run.log_checkpoint("/c", step=None), None),  # a step is optional in type
    ],
)
def test_bad_values_are_input_errors(registry: PluginRegistry, call: Any, message: str) -> None:
    run = AppRun.from_env(job_env("rec-a"), registry)
    if message is None:
        call(run)
        return
    with pytest.raises(InvalidInputError, match=message):
        call(run)


def test_numbers_with_float_and_index_are_accepted(registry: PluginRegistry) -> None:
    from decimal import Decimal
    from fractions import Fraction

    class Step:
        def __index__(self) -> int:
            return 7

    run = AppRun.from_env(job_env("rec-a"), registry)
    run.log_metric("a", Fraction(1, 4), step=Step())  # type: ignore[arg-type]
    run.log_metric("b", Decimal("0.5"))  # type: ignore[arg-type]
    logged = [args[:3] for method, args in made["rec-a"].calls if method == "log_metric"]
    assert logged == [("a", 0.25, 7), ("b", 0.5, None)]


def test_importing_the_facade_loads_no_pydantic_nor_sdk() -> None:
    code = (
        "import sys, json, torchrun_core.tracking as t; t.__all__; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout))
    assert loaded.isdisjoint({"pydantic", "mlflow", "pluggy", "rich"}), loaded


def test_facade_all_is_sorted_and_resolves() -> None:
    import torchrun_core.tracking as facade

    assert facade.__all__ == sorted(facade.__all__)
    for name in facade.__all__:
        assert getattr(facade, name) is not None
