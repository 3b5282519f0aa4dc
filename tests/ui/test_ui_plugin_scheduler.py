"""A third-party scheduler shows up in the dashboard with no work from its author.

The example plugin (tests/plugin_dist, installed like any package) provides
the "example" scheduler; the dashboard knows nothing of it.
"""

from __future__ import annotations

from ui_apps import app_of, client, get_json, quick_role

from torchrun_core.runner import Runner


def test_the_example_plugins_runs_show_in_every_view() -> None:
    with Runner("ui-plugin") as runner:
        app = app_of(quick_role("print(1)"), name="plug")
        handle = str(runner.run(app, "example"))
        failed = str(runner.run(app, "example", {"outcome": "FAILED"}))
        with client(runner) as c:
            assert "example" in get_json(c, "/api/meta")["schedulers"]
            listed = get_json(c, "/api/runs", scheduler="example")["runs"]
            assert {r["handle"]: r["state"] for r in listed} == {
                handle: "SUCCEEDED",
                failed: "FAILED",
            }
            run = get_json(c, "/api/run", handle=handle)
            assert run["scheduler"] == "example"
            assert run["replicas"] == [{"role": "main", "replica": 0}]
            assert [e["state"] for e in run["events"]][-1] == "SUCCEEDED"
            logs = get_json(c, "/api/run/logs", handle=handle, tail=100)
            assert logs["total"] >= 1
            assert any("print(1)" in line for line in logs["lines"]), logs
