"""The dashboard's actions and security layer, over a real Runner and real local jobs.

Secrets never reach an answer; cancel and rerun need --allow-actions, the
CSRF token and the page's own origin; the Host check on loopback, the
access token off it, the security headers on every answer, static files
confined to their directory, and a page that loads only its own scripts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from ui.ui_apps import (
    BASE_URL,
    SECRET,
    TestClient,
    app_of,
    cancel_live,
    client,
    get_json,
    quick_role,
    record,
)

from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState
from torchrun_core.ui.app import STATIC_DIR
from torchrun_core.ui.settings import UiSettings, is_loopback

T0 = 1_700_000_000.0


@pytest.fixture
def runner() -> Iterator[Runner]:
    """A real Runner over this test's state dir; nothing it started outlives the test."""
    with Runner("ui") as made:
        try:
            yield made
        finally:
            cancel_live(made)


def test_no_secret_reaches_a_response(runner: Runner) -> None:
    """A job's secret env and a secret-looking option, also in rows written unmasked."""
    ran = str(runner.run(app_of(quick_role("print('hi')", env={"API_TOKEN": SECRET}))))
    assert runner.wait(ran, timeout=60).state is AppState.SUCCEEDED
    raw_app = app_of(quick_role("print('hi')", env={"API_TOKEN": SECRET}), name="raw")
    unmasked = [
        record(runner.store, f"local://ui/raw-{i}", "raw", AppState.SUCCEEDED, T0 + i, cfg=cfg,
               app_json=raw_app.model_dump_json())
        for i, cfg in enumerate([{"grace_period": 1.0}, {"api_token": SECRET}])
    ]  # fmt: skip
    c = client(runner)
    bodies = [c.get("/api/runs").text]
    for handle in [ran, *unmasked]:
        for path in ("/api/run", "/api/run/events", "/api/run/request"):
            response = c.get(path, params={"handle": handle})
            assert response.status_code in (200, 400), response.text
            bodies.append(response.text)
    assert len(bodies) == 10 and not [b for b in bodies if SECRET in b]
    assert "API_TOKEN='***'" in c.get("/api/run/request", params={"handle": unmasked[0]}).text
    assert get_json(c, "/api/run", handle=unmasked[1])["cfg"] == {"api_token": "***"}


# -- actions and security ---------------------------------------------------------


def post(c: TestClient, path: str, handle: str, **headers: str) -> Any:
    return c.post(path, json={"handle": handle}, headers=headers)


def test_cancel_needs_csrf_actions_and_the_same_origin(runner: Runner) -> None:
    handle = str(runner.run(app_of(quick_role("import time; time.sleep(120)"))))
    read_only = client(runner)
    csrf = get_json(read_only, "/api/meta")["csrf_token"]
    assert post(read_only, "/api/run/cancel", handle).status_code == 403
    refused = post(read_only, "/api/run/cancel", handle, **{"x-csrf-token": csrf})
    assert refused.status_code == 403 and "disabled" in refused.json()["error"]
    acting = client(runner, UiSettings.create(allow_actions=True))
    meta = get_json(acting, "/api/meta")
    assert meta["allow_actions"] is True and meta["csrf_token"] != csrf
    token = {"x-csrf-token": meta["csrf_token"]}
    assert post(acting, "/api/run/cancel", handle, **{"x-csrf-token": csrf}).status_code == 403
    evil = post(acting, "/api/run/cancel", handle, origin="http://evil.example", **token)
    assert evil.status_code == 403 and "evil.example" in evil.json()["error"]
    assert not runner.status(handle).is_terminal
    bad_body = acting.post("/api/run/cancel", content=b"nope", headers=token)
    assert bad_body.status_code == 400
    # JSON sent as text/plain, as a cross-site form can: refused even with the token.
    as_form = acting.post(
        "/api/run/cancel",
        content=f'{{"handle": "{handle}"}}'.encode(),
        headers={**token, "content-type": "text/plain"},
    )
    assert as_form.status_code == 400 and "application/json" in as_form.json()["error"]
    assert not runner.status(handle).is_terminal
    done = post(acting, "/api/run/cancel", handle, origin=BASE_URL, **token)
    assert done.status_code == 200 and done.json() == {"handle": handle, "action": "cancel"}
    assert runner.wait(handle, timeout=60).state is AppState.CANCELLED


def test_rerun_makes_a_child_run(runner: Runner) -> None:
    handle = str(runner.run(app_of(quick_role("print('again')"))))
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    read_only = client(runner)
    csrf = {"x-csrf-token": get_json(read_only, "/api/meta")["csrf_token"]}
    assert post(read_only, "/api/run/rerun", handle, **csrf).status_code == 403
    assert [r.handle for r in runner.list()] == [handle]
    acting = client(runner, UiSettings.create(allow_actions=True))
    csrf = {"x-csrf-token": get_json(acting, "/api/meta")["csrf_token"]}
    answer = post(acting, "/api/run/rerun", handle, **csrf)
    assert answer.status_code == 200, answer.text
    child = answer.json()["handle"]
    assert child != handle and answer.json()["parent"] == handle
    assert runner.wait(child, timeout=60).state is AppState.SUCCEEDED
    assert runner.describe(child).parent_run_id == handle
    children = get_json(acting, "/api/run", handle=handle)["children"]
    assert [(k["handle"], k["state"]) for k in children] == [(child, "SUCCEEDED")]


def test_loopback_dashboard_refuses_other_host_names(runner: Runner) -> None:
    c = client(runner)
    for host in ("evil.example", "evil.example:8610", "127.0.0.1.evil.example", ""):
        response = c.get("/api/meta", headers={"host": host})
        assert response.status_code == 403, host
        assert "is not this machine" in response.json()["error"]
    for host in ("localhost:8610", "[::1]:8610", "127.0.0.1"):
        assert c.get("/api/meta", headers={"host": host}).status_code == 200, host


def test_token_mode(runner: Runner) -> None:
    settings = UiSettings.create("0.0.0.0", 8610)
    token = settings.token
    assert token
    c = client(runner, settings)
    denied = c.get("/api/meta")
    assert denied.status_code == 401 and set(denied.json()) == {"error", "hint"}
    traded = c.get("/", params={"token": token}, follow_redirects=False)
    assert traded.status_code == 303 and traded.headers["location"] == "/"
    cookie = traded.headers["set-cookie"]
    assert cookie.startswith(f"torchrun_core_ui_8610={token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    kept = c.get("/api/runs", params={"limit": 5, "token": token}, follow_redirects=False)
    assert kept.headers["location"] == "/api/runs?limit=5"
    assert c.get("/api/meta").status_code == 200  # the client's cookie jar has it now
    bearer = client(runner, settings, headers={"authorization": f"Bearer {token}"})
    assert bearer.get("/api/meta").status_code == 200
    assert post(bearer, "/api/run/cancel", "local://ui/x").status_code == 403  # no CSRF token
    for wrong in (
        client(runner, settings, headers={"authorization": f"Bearer {token}x"}),
        client(runner, settings, cookies={"torchrun_core_ui_8610": "nope"}),
        client(runner, settings, cookies={"torchrun_core_ui_8611": token}),
    ):
        assert wrong.get("/api/meta").status_code == 401
    wrong_query = client(runner, settings).get("/", params={"token": "nope"})
    assert wrong_query.status_code == 401 and "set-cookie" not in wrong_query.headers


def test_settings_token_only_off_loopback() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        assert UiSettings.create(host).token is None, host
    made = [UiSettings.create(host).token for host in ("0.0.0.0", "::", "192.168.1.5", "0.0.0.0")]
    assert all(made) and len(set(made)) == 4
    assert UiSettings.create("0.0.0.0", token="mine").token == "mine"
    assert UiSettings.create("0.0.0.0", token="").token  # empty is no token: a fresh one
    assert UiSettings.create().csrf_token != UiSettings.create().csrf_token
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.evil.example", ""):
        assert not is_loopback(host), host


def test_every_response_carries_the_security_headers(runner: Runner) -> None:
    broken = '{"name": '  # a damaged row: the answer is a 500
    record(runner.store, "local://ui/x-1", "x", AppState.SUCCEEDED, T0, app_json=broken)
    c = client(runner, raise_server_exceptions=False)
    settings = UiSettings.create("0.0.0.0", 8610)
    tokened = client(runner, settings)
    responses = {
        "index": c.get("/"),
        "json": c.get("/api/meta"),
        "static": c.get("/static/app.js"),
        "404": c.get("/nope"),
        "400": c.get("/api/run", params={"handle": "bad"}),
        "403": c.get("/", headers={"host": "evil.example"}),
        "401": tokened.get("/"),
        "303": tokened.get("/", params={"token": settings.token}, follow_redirects=False),
        "500": c.get("/api/run", params={"handle": "local://ui/x-1"}),
    }
    assert responses["500"].status_code == 500 and "Traceback" not in responses["500"].text
    for name, response in responses.items():
        assert "script-src 'self'" in response.headers["content-security-policy"], name
        assert response.headers["x-frame-options"] == "DENY", name


def test_static_files_stay_in_their_directory(runner: Runner) -> None:
    seen: list[str] = []
    app = client(runner).app

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get("path", ""))
        await app(scope, receive, send)

    c = TestClient(spy, base_url=BASE_URL)
    secret_of_app_py = "def create_app"
    for path in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/vendor/%2e%2e/%2e%2e/app.py",
        "/static/%2e%2e/%2e%2e/ui/app.py",
        "/static/%2Fetc%2Fpasswd",
    ):
        response = c.get(path)
        assert response.status_code == 404, path
        assert secret_of_app_py not in response.text and "root:" not in response.text
    # The encoded ones reach the app as ".." (the client normalizes only the plain one).
    assert sum(".." in p for p in seen) == 4


def test_index_loads_only_its_own_scripts(runner: Runner) -> None:
    c = client(runner)
    index = c.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    refs = re.findall(r'(?:src|href)="([^"#]+)"', index.text)
    assert refs and all(r.startswith("/static/") for r in refs), refs
    assert all(c.get(r).status_code == 200 for r in refs)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", index.text, re.S)
    assert scripts and all('src="/static/' in tag and not body for tag, body in scripts)
    # Our own files: the vendored uPlot's license banner names its homepage (a comment);
    # test_vendored_assets.py pins that file.
    own = [p for p in STATIC_DIR.rglob("*") if p.suffix in (".html", ".js")]
    own = [p for p in own if "vendor" not in p.relative_to(STATIC_DIR).parts]
    assert len(own) >= 7
    for path in own:
        text = path.read_text()
        assert not re.search(r"https?://|//cdn", text), path
        for module in re.findall(r'^import .* from "([^"]+)";$', text, re.M):
            assert module.startswith("./") and (path.parent / module).is_file(), module
