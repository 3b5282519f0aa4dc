"""The dashboard's read API over a real Runner and real local jobs, through Starlette's TestClient.

Runs (as ``list --json``), one run (as ``describe --json``), metric series,
log pages and finished logs' streams. Actions and the security layer are in
test_ui_security.py; live log following against a real server in
test_ui_server.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cli.cli_process import run_cli
from ui.ui_apps import (
    AUX_JOB,
    LOG_LINES,
    SECRET,
    TRACKED_JOB,
    TestClient,
    app_of,
    cancel_live,
    client,
    get_json,
    isolated_env,
    py_role,
    quick_role,
    record,
    sse_events,
)

from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState
from torchrun_core.tracking.records import MetricPoint
from torchrun_core.ui import runs_api
from torchrun_core.ui.series import metric_series, min_max_indices

T0 = 1_700_000_000.0
ALL_LINES = [f"line {i}" for i in range(LOG_LINES)]


@pytest.fixture
def runner() -> Iterator[Runner]:
    """A real Runner over this test's state dir; nothing it started outlives the test."""
    with Runner("ui") as made:
        try:
            yield made
        finally:
            cancel_live(made)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One finished job for the module (its state dir, its handle): roles main and aux."""
    state = tmp_path_factory.mktemp("ui-api") / "state"
    app = app_of(
        py_role(TRACKED_JOB, "main", env={"API_TOKEN": SECRET}), quick_role(AUX_JOB, "aux")
    )
    with isolated_env(state), Runner("ui") as made:
        try:
            handle = str(made.run(app))
            assert made.wait(handle, timeout=60).state is AppState.SUCCEEDED
        finally:
            cancel_live(made)
    return state, handle


@pytest.fixture
def tracked(
    tracked_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, str]]:
    """A client over the module's finished job, and its handle."""
    state, handle = tracked_run
    monkeypatch.setenv("TORCHRUN_CORE_STATE_DIR", str(state))
    with Runner("ui") as made:
        yield client(made), handle


@pytest.fixture
def recorded(runner: Runner) -> dict[str, str]:
    """Five ended runs written straight into the store, 100 s apart; c and e are a's children."""
    store = runner.store
    a = record(store, "local://ui/alpha-1", "alpha", AppState.SUCCEEDED, T0)
    return {
        "a": a,
        "b": record(store, "local://ui/beta-1", "beta", AppState.FAILED, T0 + 100),
        "c": record(
            store, "local://ui/alpha-2", "alpha", AppState.CANCELLED, T0 + 200, parent_run_id=a
        ),
        "d": record(store, "docker://ui/gamma-1", "gamma", AppState.SUCCEEDED, T0 + 300),
        "e": record(
            store, "local://ui/delta-1", "delta", AppState.SUCCEEDED, T0 + 400, parent_run_id=a
        ),
    }


def keys_of(page: dict[str, Any], runs: dict[str, str]) -> str:
    """The keys of ``runs`` on an /api/runs page, in its order (e.g. "edcba")."""
    by_handle = {h: k for k, h in runs.items()}
    return "".join(by_handle[r["handle"]] for r in page["runs"])


def listed(c: TestClient, runs: dict[str, str], **params: Any) -> str:
    return keys_of(get_json(c, "/api/runs", **params), runs)


# -- /api/runs -----------------------------------------------------------------


def test_runs_filters_and_sorts(runner: Runner, recorded: dict[str, str]) -> None:
    c = client(runner)
    iso = datetime.fromtimestamp(T0 + 200, timezone.utc).isoformat()
    cases = {
        (): "edcba",
        (("sort", "oldest"),): "abcde",
        (("sort", "name"),): "acbed",
        (("scheduler", "docker"),): "d",
        (("scheduler", "local"),): "ecba",
        (("state", "SUCCEEDED,FAILED"),): "edba",
        (("state", "cancelled"),): "c",
        (("name", "alpha%"),): "ca",
        (("name", "%TA"),): "eb",
        (("since", str(int(T0 + 200))),): "edc",
        (("since", iso),): "edc",
        (("until", iso),): "ba",
        (("until", str(T0 + 200)), ("since", str(T0 + 100))): "b",
        (("parent", recorded["a"]),): "ec",
        (("parent", recorded["a"]), ("state", "SUCCEEDED"), ("sort", "oldest")): "e",
    }
    for query, expected in cases.items():
        assert listed(c, recorded, **dict(query)) == expected, query


def test_runs_pages_with_a_cursor(runner: Runner, recorded: dict[str, str]) -> None:
    c = client(runner)
    for params, expected in [({}, "edcba"), ({"state": "SUCCEEDED,CANCELLED"}, "edca")]:
        pages: list[str] = []
        cursor: dict[str, str] = {}
        while len(pages) <= len(recorded):  # a cursor that never ends fails, not hangs
            page = get_json(c, "/api/runs", limit=2, **params, **cursor)
            pages.append(keys_of(page, recorded))
            if page["next_cursor"] is None:
                break
            cursor = {"cursor": page["next_cursor"]}
        assert pages == [expected[i : i + 2] for i in range(0, len(expected), 2)], params


def test_runs_match_the_cli_list_json(runner: Runner, recorded: dict[str, str]) -> None:
    c = client(runner)
    for cli_args, params in [
        ((), {}),
        (("--state", "SUCCEEDED,FAILED", "--sort", "oldest", "--name", "%a%"),
         {"state": "SUCCEEDED,FAILED", "sort": "oldest", "name": "%a%"}),
    ]:  # fmt: skip
        printed = run_cli("list", "--json", "--limit", "0", *cli_args)
        assert printed.returncode == 0, printed.stderr
        assert get_json(c, "/api/runs", limit=1000, **params)["runs"] == json.loads(printed.stdout)


def test_runs_refuse_bad_filters(runner: Runner) -> None:
    c = client(runner)
    for params in [
        {"state": "BOGUS"},
        {"state": "SUCCEEDED,nope"},
        {"sort": "random"},
        {"limit": "0"},
        {"limit": "x"},
        {"since": "yesterday-ish"},
        {"since": "0001-01-01T00:00:00"},
        {"until": "1" + "0" * 400},
        {"parent": "not-a-handle"},
        {"cursor": "garbage"},
        {"name": "\\"},
    ]:
        body = get_json(c, "/api/runs", 400, **params)
        assert set(body) == {"error", "hint"} and body["error"], params


# -- /api/run ------------------------------------------------------------------


def test_run_is_describe_json_plus_replicas(tracked: tuple[TestClient, str]) -> None:
    c, handle = tracked
    api = get_json(c, "/api/run", handle=handle)
    printed = run_cli("describe", handle, "--json")
    assert printed.returncode == 0, printed.stderr
    cli = json.loads(printed.stdout)
    assert set(cli) <= set(api)
    for key in ("handle", "app", "cfg", "events", "state", "parent_run_id", "created_at"):
        assert api[key] == cli[key], key
    assert [e["state"] for e in api["events"]][-1] == "SUCCEEDED"
    assert api["replicas"] == [{"role": "main", "replica": 0}, {"role": "aux", "replica": 0}]
    assert api["children"] == [] and api["more_children"] is False
    after = get_json(c, "/api/run/events", handle=handle, after=api["events"][0]["seq"])
    assert after == api["events"][1:]


def test_run_lists_its_children(
    runner: Runner, recorded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = client(runner)
    parent = get_json(c, "/api/run", handle=recorded["a"])
    assert [(k["handle"], k["state"]) for k in parent["children"]] == [
        (recorded["c"], "CANCELLED"),
        (recorded["e"], "SUCCEEDED"),
    ]
    assert parent["more_children"] is False
    assert get_json(c, "/api/run", handle=recorded["c"])["parent_run_id"] == recorded["a"]
    monkeypatch.setattr(runs_api, "MAX_CHILDREN", 1)
    first = get_json(c, "/api/run", handle=recorded["a"])
    assert [k["handle"] for k in first["children"]] == [recorded["c"]]
    assert first["more_children"] is True


# -- metrics -------------------------------------------------------------------


def test_series_of_a_tracked_job(tracked: tuple[TestClient, str]) -> None:
    c, handle = tracked
    tags = get_json(c, "/api/run/series", handle=handle)["tags"]
    assert [t["tag"] for t in tags] == ["acc", "loss"]
    acc, loss = (t["series"][0] for t in tags)
    assert [s["source"] for t in tags for s in t["series"]] == ["main/0", "main/0"]
    assert (loss["count"], loss["downsampled"], loss["steps"]) == (50, False, list(range(50)))
    assert loss["values"] == [1 / (s + 1) for s in range(50)]
    assert (acc["count"], acc["downsampled"], acc["steps"]) == (30, False, list(range(30)))
    small = get_json(c, "/api/run/series", handle=handle, max_points=10, tag="loss")["tags"]
    [only] = [s for t in small for s in t["series"]]
    assert only["downsampled"] is True and only["count"] == 50
    assert len(only["steps"]) <= 10 and only["steps"] == sorted(set(only["steps"]))
    assert (only["steps"][0], only["steps"][-1]) == (0, 49)
    get_json(c, "/api/run/series", 400, handle=handle, max_points=9)


def test_min_max_downsampling_keeps_ends_and_spikes() -> None:
    values = [math.sin(i / 500) for i in range(100_000)]
    values[54_321], values[77_777] = 1e9, -1e9
    kept = min_max_indices(values, 2000)
    assert len(kept) <= 2000 and kept == sorted(set(kept))
    assert {0, 54_321, 77_777, 99_999} <= set(kept)
    assert min_max_indices(values[:10], 10) == list(range(10))
    points = [MetricPoint("loss", v, i, 0.0, "r/0") for i, v in enumerate(values)]
    [series] = metric_series(points, 500)[0]["series"]
    assert series["count"] == 100_000 and series["downsampled"] is True
    assert len(series["values"]) <= 500 and 1e9 in series["values"] and -1e9 in series["values"]


def test_metric_series_orders_and_drops_non_numbers() -> None:
    points = [
        MetricPoint("loss", 0.5, 5, 0.0, "r/1"),
        MetricPoint("loss", 0.1, 1, 0.0, "r/1"),
        MetricPoint("loss", math.nan, 2, 0.0, "r/1"),
        MetricPoint("loss", math.inf, 3, 0.0, "r/1"),
        MetricPoint("loss", -math.inf, 4, 0.0, "r/1"),
        MetricPoint("loss", 0.9, 0, 0.0, "r/0"),
        MetricPoint("lr", 0.3, None, 0.0, "r/0"),
        MetricPoint("lr", 0.2, None, 0.0, "r/0"),
        MetricPoint("lr", 0.1, None, 0.0, "r/0"),
        MetricPoint("train", 3.0, None, 0.0, "r/0", kind="progress", final_value=9.0),
    ]
    out = {t["tag"]: t["series"] for t in metric_series(points, 100)}
    assert list(out) == ["loss", "lr"]
    assert [(s["source"], s["steps"], s["values"], s["count"]) for s in out["loss"]] == [
        ("r/0", [0], [0.9], 1),
        ("r/1", [1, 5], [0.1, 0.5], 2),
    ]
    assert (out["lr"][0]["steps"], out["lr"][0]["values"]) == ([0, 1, 2], [0.3, 0.2, 0.1])


def test_metrics_progress_and_checkpoints(tracked: tuple[TestClient, str]) -> None:
    c, handle = tracked
    printed = run_cli("metrics", handle, "--json")
    assert printed.returncode == 0, printed.stderr
    metrics = get_json(c, "/api/run/metrics", handle=handle)
    assert metrics == json.loads(printed.stdout) and len(metrics) == 50 + 30 + 1
    [point] = get_json(c, "/api/run/metrics", handle=handle, tag="loss", step=3)
    assert (point["value"], point["step"], point["source"]) == (0.25, 3, "main/0")
    [progress] = get_json(c, "/api/run/progress", handle=handle)
    assert {k: progress[k] for k in ("kind", "tag", "value", "final_value", "units")} == {
        "kind": "progress", "tag": "train", "value": 50, "final_value": 100, "units": "steps"
    }  # fmt: skip
    checkpoints = get_json(c, "/api/run/checkpoints", handle=handle)
    assert [(k["path"], k["step"], k["complete"]) for k in checkpoints] == [
        ("/ck/10.pt", 10, True),
        ("/ck/20.pt", 20, False),
    ]


# -- logs ----------------------------------------------------------------------


def test_log_pages(tracked: tuple[TestClient, str]) -> None:
    c, handle = tracked
    tail = get_json(c, "/api/run/logs", handle=handle, tail=1000)
    assert (tail["start"], tail["total"], tail["lines"]) == (1500, LOG_LINES, ALL_LINES[1500:])
    page = get_json(c, "/api/run/logs", handle=handle, role="main", offset=1000, limit=1000)
    assert (page["start"], page["more"], page["lines"]) == (1000, True, ALL_LINES[1000:2000])
    last = get_json(c, "/api/run/logs", handle=handle, offset=2000)
    assert (last["more"], last["lines"]) == (False, ALL_LINES[2000:])
    found = get_json(c, "/api/run/logs", handle=handle, regex="^line 12", limit=10_000)["lines"]
    assert found == [x for x in ALL_LINES if x.startswith("line 12")] and len(found) == 111
    aux = {"handle": handle, "role": "aux"}
    assert get_json(c, "/api/run/logs", **aux, streams="stderr")["lines"] == [
        "err 0", "err 1", "err 2"
    ]  # fmt: skip
    assert get_json(c, "/api/run/logs", **aux, streams="stdout")["lines"] == [
        "out 0", "out 1", "out 2"
    ]  # fmt: skip
    assert len(get_json(c, "/api/run/logs", **aux)["lines"]) == 6


def test_log_requests_refused(tracked: tuple[TestClient, str]) -> None:
    c, handle = tracked
    for path in ("/api/run/logs", "/api/run/logs/stream"):
        body = get_json(c, path, 400, handle=handle, role="../../etc")
        assert set(body) == {"error", "hint"}
        assert "../../etc/0" in body["error"] and "main/0, aux/0" in body["hint"]
        assert "main/1" in get_json(c, path, 400, handle=handle, replica=1)["error"]
    get_json(c, "/api/run/logs", 404, handle="local://ui/no-such-app")
    for bad in [
        {"handle": "not-a-handle"},
        {},
        {"handle": handle, "limit": 0},
        {"handle": handle, "tail": 0},
        {"handle": handle, "offset": -1},
        {"handle": handle, "streams": "both"},
        {"handle": handle, "regex": "("},
    ]:
        assert set(get_json(c, "/api/run/logs", 400, **bad)) == {"error", "hint"}, bad


def stream_lines(c: TestClient, **params: Any) -> list[str]:
    """The lines of a finished replica's log stream; it must end with an ``end`` event."""
    with c.stream("GET", "/api/run/logs/stream", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
    assert events[-1] == ("end", {})
    assert {name for name, _ in events[:-1]} <= {"lines"}
    return [line for _, batch in events[:-1] for line in batch]


def test_log_stream_of_a_finished_job(tracked: tuple[TestClient, str]) -> None:
    c, handle = tracked
    assert stream_lines(c, handle=handle) == ALL_LINES
    assert stream_lines(c, handle=handle, skip=2400) == ALL_LINES[2400:]
    assert stream_lines(c, handle=handle, role="aux", streams="stderr") == [
        "err 0", "err 1", "err 2"
    ]  # fmt: skip
