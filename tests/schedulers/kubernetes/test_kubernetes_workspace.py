"""``--workspace DIR`` on kubernetes: built on the test dockerd, pushed, pulled by the kubelet.

The test cluster's kubelet runs pods on the test dockerd, which also builds
the workspace images; to prove a pod's image came from the registry, the
tests remove the built image from that daemon (its tag and its digest
reference) before the app is submitted: the kubelet then has to pull it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_rules import require_engine
from registry_env import TestRegistries, require_registries

from torchrun_core.errors import BackendError, InvalidInputError, InvalidOptionError
from torchrun_core.runner import Runner
from torchrun_core.schedulers.kubernetes.manifests import LABEL_APP, LABEL_SESSION
from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
from torchrun_core.schedulers.kubernetes.plan import build_manifests
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.kubernetes

DOCKER_HOST_ENV = "TORCHRUN_CORE_TEST_DOCKER_HOST"
PYTHON = "torchrun-core/python:3.11"  # on the test dockerd (scripts/engines/docker-images.sh)
DIGEST_RE = r"@sha256:[0-9a-f]{64}"


# -- fixtures ------------------------------------------------------------------
@pytest.fixture(scope="module")
def docker_host() -> str:
    """The test dockerd (the kubelet's, and the builder's); skips (fails under CI) without it."""
    host = os.environ.get(DOCKER_HOST_ENV, "")
    require_engine("docker", bool(host), f"{DOCKER_HOST_ENV} is not set (scripts/test.sh)")
    return host


@pytest.fixture
def docker_api(docker_host: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A low-level client of the test dockerd; DOCKER_HOST points the builder at it too."""
    api_module = pytest.importorskip("docker.api", reason="the docker SDK is not installed")
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    client = api_module.APIClient(base_url=docker_host, version="auto", timeout=60)
    names = {tag for image in client.images() for tag in image.get("RepoTags") or []}
    require_engine("docker", PYTHON in names, f"{PYTHON} is not on {docker_host}")
    yield client
    client.close()


@pytest.fixture
def registries(docker_api: Any) -> TestRegistries:
    """The test registries (reached through the test dockerd)."""
    return require_registries()


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DOCKER_CONFIG of this test alone (no credentials until a test writes some)."""
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    return config_dir


@pytest.fixture
def local_refs(docker_api: Any) -> Iterator[list[str]]:
    """Image references this test made on the test dockerd; removed afterwards."""
    refs: list[str] = []
    yield refs
    from docker.errors import APIError

    for ref in refs:
        # forced: the kubelet's exited containers still name the image
        with contextlib.suppress(APIError):
            _remove_image(docker_api, ref, force=True)


@pytest.fixture
def pull_secret(core_api: Any, registries: TestRegistries) -> Iterator[str]:
    """A ``kubernetes.io/dockerconfigjson`` Secret of the auth registry's credentials."""
    name = f"trc-pull-{uuid.uuid4().hex[:8]}"
    auth = base64.b64encode(f"{registries.user}:{registries.password}".encode()).decode()
    config = json.dumps({"auths": {registries.auth: {"auth": auth}}})
    body = {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name},
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    }  # fmt: skip
    core_api.create_namespaced_secret("default", body, _preload_content=False)
    yield name
    core_api.delete_namespaced_secret(name, "default", _preload_content=False)


# -- helpers -------------------------------------------------------------------
def _workspace(root: Path, text: str = "hello from the workspace") -> Path:
    ws = root / "ws"
    ws.mkdir()
    (ws / "main.py").write_text(f"print({text!r})\n")
    return ws


def _app() -> AppDef:
    role = Role(name="py", image=PYTHON, entrypoint="python", args=["main.py"])
    return AppDef(name="ws", roles=[role])


def _repo(registry: str) -> str:
    return f"{registry}/trc-ws/t{uuid.uuid4().hex[:10]}"


def _image(info: AppDryRunInfo[Any]) -> str:
    """The image of the (only) Job's container in a dry run."""
    (job,) = [m for m in info.request["manifests"] if m["kind"] == "Job"]
    return str(job["spec"]["template"]["spec"]["containers"][0]["image"])


def _tags(registry: str, path: str) -> list[str] | int:
    """The tags the (plain) registry has for ``path``, or the HTTP status (404: none)."""
    try:
        with urllib.request.urlopen(f"http://{registry}/v2/{path}/tags/list", timeout=10) as r:
            return list(json.load(r).get("tags") or [])
    except urllib.error.HTTPError as err:
        return err.code


def _remove_image(api: Any, ref: str, force: bool = False) -> None:
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        api.remove_image(ref, force=force)


def _build_push_and_forget(api: Any, info: AppDryRunInfo[Any], local_refs: list[str]) -> str:
    """Realize ``info``'s workspace (build, push), then remove the image from the daemon.

    Returns the ``repo@sha256:…`` the roles will run; ``schedule`` then finds
    the tag in the registry (no build, no push) and the kubelet must pull.
    """
    from docker.errors import NotFound

    tag = _image(info)
    assert info.pending_build is not None
    pinned = info.pending_build(info.app).roles[0].image
    image_id = api.inspect_image(tag)["Id"]
    local_refs += [tag, pinned]
    _remove_image(api, tag)
    _remove_image(api, pinned)
    with pytest.raises(NotFound):
        api.inspect_image(image_id)  # gone, its workspace layer with it
    return pinned


def _pod(core_api: Any, handle: AppHandle) -> Any:
    selector = f"{LABEL_APP}={AppHandle.parse(str(handle)).app_id}"
    (pod,) = core_api.list_namespaced_pod("default", label_selector=selector).items
    return pod


# -- no cluster ----------------------------------------------------------------
def test_options_are_checked() -> None:
    opts = KubernetesOptions.model_validate(
        {"image_pull_secrets": "regcred, team.pull", "image_repo": "127.0.0.1:5000/a/b",
         "docker_host": "unix:///tmp/d.sock"}
    )  # fmt: skip
    assert opts.image_pull_secrets == ["regcred", "team.pull"]
    assert (opts.image_repo, opts.docker_host) == ("127.0.0.1:5000/a/b", "unix:///tmp/d.sock")
    for bad in ({"image_pull_secrets": "Reg_Cred"}, {"image_pull_secrets": "a,-b"},
                {"image_repo": "127.0.0.1:5000/a:tag"}, {"image_repo": "Upper/x"}):  # fmt: skip
        with pytest.raises(ValueError):
            KubernetesOptions.model_validate(bad)


def test_pods_carry_image_pull_secrets_and_no_credentials() -> None:
    app = _app()
    for jobset in (False, True):
        opts = KubernetesOptions(image_pull_secrets=["a", "b"], jobset=jobset)
        text = json.dumps(build_manifests(app, opts, app_id="ws-12345678", session="s"))
        assert text.count('"imagePullSecrets": [{"name": "a"}, {"name": "b"}]') == 1
    bare = build_manifests(app, KubernetesOptions(), app_id="ws-12345678", session="s")
    assert "imagePullSecrets" not in json.dumps(bare)


def test_a_workspace_needs_image_repo(tmp_path: Path) -> None:
    with Runner(f"u{uuid.uuid4().hex[:8]}") as runner:
        with pytest.raises(InvalidInputError) as caught:
            runner.dryrun(_app(), "kubernetes", {}, workspace=str(_workspace(tmp_path)))
        with pytest.raises(InvalidOptionError, match="image_pull_secrets"):
            runner.dryrun(_app(), "kubernetes", {"image_pull_secrets": "A!"})
    err = caught.value
    assert err.exit_code == 2 and "\n" not in str(err)
    assert "image_repo" in str(err) and err.hint is not None
    assert "--cfg image_repo=HOST:PORT/PATH" in err.hint


def test_the_dry_run_builds_and_pushes_nothing(
    docker_api: Any, registries: TestRegistries, tmp_path: Path
) -> None:
    repo = _repo(registries.plain)
    before = {image["Id"] for image in docker_api.images(all=True)}
    with Runner(f"u{uuid.uuid4().hex[:8]}") as runner:
        info = runner.dryrun(
            _app(), "kubernetes", {"image_repo": repo}, workspace=str(_workspace(tmp_path))
        )
    tag = _image(info)
    assert re.fullmatch(rf"{re.escape(repo)}:ws-[0-9a-f]{{20}}", tag), tag
    assert {image["Id"] for image in docker_api.images(all=True)} == before
    assert _tags(registries.plain, repo.split("/", 1)[1]) == 404  # nothing pushed
    (note,) = [n for n in info.notes if n.startswith("workspace image")]
    assert f"pushed to {repo}, run by digest" in note and PYTHON in note
    assert info.pending_build is not None


# -- on the test cluster -------------------------------------------------------
def test_workspace_runs_pinned_by_digest(
    runner: Runner, core_api: Any, registries: TestRegistries, local_refs: list[str],
    tmp_path: Path, docker_host: str,
) -> None:  # fmt: skip
    repo = _repo(registries.plain)
    cfg = {"image_repo": repo, "docker_host": docker_host}
    handle = runner.run(_app(), "kubernetes", cfg, workspace=str(_workspace(tmp_path)))
    assert runner.wait(handle, timeout=120).state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["hello from the workspace\n"]
    record = runner.describe(handle)
    assert record is not None and record.app is not None
    image = record.app.roles[0].image
    local_refs.append(image)
    assert re.fullmatch(re.escape(repo) + DIGEST_RE, image), image
    assert _pod(core_api, handle).spec.containers[0].image == image
    (tag,) = _tags(registries.plain, repo.split("/", 1)[1])  # type: ignore[misc]
    local_refs.append(f"{repo}:{tag}")


def test_the_kubelet_pulls_the_image_from_the_registry(
    runner: Runner, core_api: Any, docker_api: Any, registries: TestRegistries,
    local_refs: list[str], tmp_path: Path,
) -> None:  # fmt: skip
    from docker.errors import NotFound

    repo = _repo(registries.plain)
    info = runner.dryrun(_app(), "kubernetes", {"image_repo": repo},
                         workspace=str(_workspace(tmp_path, "pulled")))  # fmt: skip
    pinned = _build_push_and_forget(docker_api, info, local_refs)
    handle = runner.schedule(info)  # the registry has the tag: no build, no push
    assert runner.wait(handle, timeout=120).state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["pulled\n"]
    pod = _pod(core_api, handle)
    assert pod.spec.containers[0].image == pinned
    assert pod.status.container_statuses[0].image_id.endswith(pinned.split("@", 1)[1])
    with pytest.raises(NotFound):
        docker_api.inspect_image(_image(info))  # not rebuilt: only the kubelet's pull is here
    assert docker_api.inspect_image(pinned)["Id"]


def test_auth_registry_with_an_image_pull_secret(
    runner: Runner, core_api: Any, docker_api: Any, registries: TestRegistries,
    local_refs: list[str], docker_config: Path, pull_secret: str, tmp_path: Path,
) -> None:  # fmt: skip
    # The push's credentials come from the docker config, as `docker login` writes it.
    auth = base64.b64encode(f"{registries.user}:{registries.password}".encode()).decode()
    login = {"auths": {registries.auth: {"auth": auth}}}
    (docker_config / "config.json").write_text(json.dumps(login))
    repo, ws = _repo(registries.auth), str(_workspace(tmp_path, "with credentials"))
    cfg = {"image_repo": repo, "image_pull_secrets": pull_secret}
    info = runner.dryrun(_app(), "kubernetes", cfg, workspace=ws)
    assert registries.password not in json.dumps(info.request["manifests"])
    _build_push_and_forget(docker_api, info, local_refs)

    # Without the Secret the kubelet cannot pull (the registry wants credentials).
    bare = runner.schedule(runner.dryrun(_app(), "kubernetes", {"image_repo": repo}, workspace=ws))
    _wait_for_pull_failure(core_api, bare)
    runner.cancel(bare)

    handle = runner.schedule(info)
    assert runner.wait(handle, timeout=120).state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["with credentials\n"]
    assert [s.name for s in _pod(core_api, handle).spec.image_pull_secrets] == [pull_secret]


def _wait_for_pull_failure(core_api: Any, handle: AppHandle) -> None:
    from kubernetes import watch

    selector = f"{LABEL_APP}={AppHandle.parse(str(handle)).app_id}"
    reasons: list[str] = []
    for event in watch.Watch().stream(core_api.list_namespaced_pod, "default",
                                      label_selector=selector, timeout_seconds=90):  # fmt: skip
        statuses = event["object"].status.container_statuses or []
        reasons = [s.state.waiting.reason for s in statuses if s.state.waiting]
        if {"ErrImagePull", "ImagePullBackOff"} & set(reasons):
            return
    pytest.fail(f"the pod did not fail to pull (last waiting reasons: {reasons})")


def test_an_unreachable_registry_submits_nothing(
    runner: Runner, core_api: Any, docker_api: Any, session: str, tmp_path: Path
) -> None:
    from kubernetes.client import BatchV1Api

    info = runner.dryrun(_app(), "kubernetes", {"image_repo": "127.0.0.1:1/x"},
                         workspace=str(_workspace(tmp_path)))  # fmt: skip
    with pytest.raises((BackendError, InvalidInputError)) as caught:
        runner.schedule(info)
    assert "127.0.0.1:1" in str(caught.value) and "\n" not in str(caught.value)
    jobs = BatchV1Api(core_api.api_client).list_namespaced_job(
        "default", label_selector=f"{LABEL_SESSION}={session}"
    )
    assert jobs.items == []
