"""Distributed PyTorch components: ``dist.ddp`` and ``dist.spmd`` run a script under torchrun.

Both launch torchrun once per node, as the replicas of one role, through
:mod:`torchrun_core.components.torchrun_tee` (passed as ``python -c``): each
worker's lines come out whole, prefixed ``[rank<R>]:`` with its global rank.
``-j [min:]NODESxPROCS`` gives the shape: NODES replicas (``min:`` makes it
elastic, from ``min`` to NODES nodes), each starting PROCS worker processes.

Rendezvous:
    - one node: torchrun's c10d rendezvous on ``localhost``, on a free port
      unless ``--rdzv_port`` is given, so that single-node jobs on one host
      never collide (torchrun's own ``--standalone`` does the same);
    - several nodes: the c10d store that replica 0 hosts, at rank 0's host,
      which every scheduler sets in ``TORCHRUN_CORE_RANK0_HOST``. The command
      runs under ``sh -c`` so that the shell expands that variable; every
      other word but the app id (shell-safe by its grammar) is quoted with
      :func:`shlex.quote`.

``--rdzv-id`` is the app id (the ``${app_id}`` macro), unique per run.

``ddp`` and ``spmd`` differ in their defaults only: ``ddp`` asks for an
explicit shape (default ``1x2``) and leaves the environment alone; ``spmd``
(one process per accelerator) takes ``-j [min:]NODES`` with PROCS defaulting
to the resource's GPU count (1 without GPUs), and sets ``OMP_NUM_THREADS=1``
unless ``--env`` sets it, so that the workers of a node do not oversubscribe
its cores.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from torchrun_core.components import torchrun_tee
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.macros import APP_ID, RANK0_ENV
from torchrun_core.specs.resource import Resource

DEFAULT_RDZV_PORT = 29500

_SHAPE_RE = re.compile(r"(?:(?P<min>\d+):)?(?P<max>\d+)(?:x(?P<procs>\d+))?")
_NOT_IN_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class JobShape:
    """How many nodes (replicas) and worker processes per node a job has."""

    min_nodes: int
    max_nodes: int
    nproc_per_node: int

    @property
    def nnodes(self) -> str:
        """torchrun's ``--nnodes``: ``N``, or ``MIN:MAX`` when elastic."""
        if self.min_nodes == self.max_nodes:
            return str(self.max_nodes)
        return f"{self.min_nodes}:{self.max_nodes}"

    @property
    def single_node(self) -> bool:
        return self.max_nodes == 1


def parse_shape(j: str, default_procs: int | None = None) -> JobShape:
    """Parse ``-j [min:]NODESxPROCS``; ``xPROCS`` may be left out when ``default_procs`` is given.

    Raises:
        ValueError: naming ``--j`` and the expected form.
    """
    form = "[min:]NODESxPROCS" if default_procs is None else "[min:]NODES[xPROCS]"
    match = _SHAPE_RE.fullmatch(j.strip())
    procs = default_procs if match is None or match["procs"] is None else int(match["procs"])
    if match is None or procs is None:
        raise ValueError(f"--j {j!r} is not {form}, e.g. 2x4 (2 nodes x 4 processes) or 1:2x4")
    max_nodes = int(match["max"])
    min_nodes = int(match["min"] or max_nodes)
    shape = JobShape(min_nodes, max_nodes, procs)
    if min(shape.min_nodes, shape.max_nodes, shape.nproc_per_node) < 1:
        raise ValueError(f"--j {j!r}: nodes and processes must be at least 1")
    if shape.min_nodes > shape.max_nodes:
        raise ValueError(f"--j {j!r}: the minimum ({min_nodes}) exceeds the nodes ({max_nodes})")
    return shape


@dataclass(frozen=True)
class Rendezvous:
    """Where torchrun's agents meet: backend, port and restarts."""

    backend: str = "c10d"
    port: int | None = None  # None: a free port on one node, DEFAULT_RDZV_PORT on several
    max_restarts: int = 0

    def local_endpoint(self) -> str:
        """One node: ``localhost``, on a free port unless one was given."""
        return f"localhost:{0 if self.port is None else self.port}"

    def rank0_endpoint_shell(self) -> str:
        """Several nodes: shell text that expands to ``<rank 0's host>:<port>``."""
        port = DEFAULT_RDZV_PORT if self.port is None else self.port
        # "${${rank0_env}:?...}" becomes "${TORCHRUN_CORE_RANK0_HOST:?...}" at dry-run
        # time; the shell then expands it, and fails loudly when the scheduler did not set it.
        return f'"${{{RANK0_ENV}:?is not set by the scheduler}}:{port}"'

    def check(self, shape: JobShape) -> None:
        """Raises ValueError for a port or restart count torchrun cannot use."""
        lowest = 0 if shape.single_node else 1
        if self.port is not None and not lowest <= self.port <= 65535:
            raise ValueError(f"--rdzv_port {self.port} is not a port number ({lowest}-65535)")
        if self.max_restarts < 0:
            raise ValueError(f"--max_restarts {self.max_restarts} must not be negative")
        if not self.backend.strip():
            raise ValueError("--rdzv_backend must not be empty")


def torchrun_command(
    interpreter: str,
    shape: JobShape,
    rdzv: Rendezvous,
    target: Sequence[str],
    script_args: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """A replica's ``(entrypoint, args)``: torchrun, run directly or under ``sh -c``.

    ``target`` is ``[script]`` or ``["-m", module]``. A single-node job needs
    no shell; a multi-node job does, to read rank 0's host from the environment.
    """
    head = [interpreter, "-c", tee_program(), "--nnodes", shape.nnodes]
    head += ["--nproc-per-node", str(shape.nproc_per_node), "--rdzv-backend", rdzv.backend]
    rest = ["--max-restarts", str(rdzv.max_restarts), *target, *script_args]
    if shape.single_node:
        argv = [*head, "--rdzv-endpoint", rdzv.local_endpoint(), "--rdzv-id", APP_ID, *rest]
        return argv[0], argv[1:]
    # The endpoint is left for the shell to expand. The app id needs no quotes:
    # app ids only have characters a shell takes literally ([A-Za-z0-9_.:-], the
    # AppHandle grammar), and dry runs stay readable. exec: torchrun replaces
    # the shell, so it gets the scheduler's signals and gives its exit code.
    rdzv_words = f"--rdzv-endpoint {rdzv.rank0_endpoint_shell()} --rdzv-id {APP_ID}"
    check = _rank0_resolves_shell(interpreter)
    return "sh", ["-c", f"{check}exec {shlex.join(head)} {rdzv_words} {shlex.join(rest)}"]


@functools.cache
def tee_program() -> str:
    """The ``python -c`` program that runs torchrun with whole, rank-prefixed lines.

    :mod:`~torchrun_core.components.torchrun_tee`'s source, without its
    docstrings and comments, which a dry run would otherwise print in full.
    """
    tree = ast.parse(Path(torchrun_tee.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.unparse(tree)


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


# A host name no node can resolve would leave every other node retrying the
# rendezvous until torchrun's timeout (minutes): fail at once, saying why.
_RESOLVE = "import socket, sys; socket.getaddrinfo(sys.argv[1], None)"


def _rank0_resolves_shell(interpreter: str) -> str:
    """Shell text that exits 1 with one line unless rank 0's host resolves on this node."""
    host = f'"${{{RANK0_ENV}:?is not set by the scheduler}}"'
    message = (
        f"torchrun_core: rank 0's host {host} does not resolve on this node, so the "
        "rendezvous cannot reach it (the scheduler must give an address the nodes can resolve)"
    )
    return (
        f"{shlex.quote(interpreter)} -c {shlex.quote(_RESOLVE)} {host} >/dev/null 2>&1 || "
        f'{{ echo "{message}" >&2; exit 1; }}; '
    )


def default_interpreter(image: str) -> str:
    """This Python for local runs (no image, or an existing directory); else ``python3``.

    A directory test, not a ``/`` test: ``ghcr.io/org/trainer:1`` is an image.
    """
    local = not image or os.path.isdir(os.path.expanduser(image))
    return sys.executable if local else "python3"


def resolve_resource(resource: str, cpu: str, memory: str, gpu: int) -> Resource:
    """A named resource (or none), with the fields given explicitly applied over it.

    Raises:
        ValueError: an unknown named resource.
        pydantic.ValidationError: a bad cpu or memory quantity (naming the field).
    """
    from torchrun_core.specs.named_resources import resolve_named_resource

    base = resolve_named_resource(resource) if resource else Resource()
    fields: dict[str, object] = {"cpu": cpu, "memory_mb": memory, "gpu": gpu or None}
    given = {k: v for k, v in fields.items() if v not in ("", None)}
    return Resource.model_validate({**base.model_dump(), **given}) if given else base


def _target(script: str | None, m: str | None) -> list[str]:
    if (script is None) == (m is None):
        raise ValueError("give exactly one of --script or --m (a module to run as python -m)")
    if m is not None:
        return ["-m", m]
    assert script is not None
    if script.startswith("-"):
        raise ValueError(f"--script {script!r} starts with '-': torchrun would read an option")
    return [script]


def _app_name(name: str, script: str | None, m: str | None) -> str:
    """``name`` as given, else the script's stem or the module's last part made a valid name."""
    if name:
        return name  # the AppDef's validation rejects a bad one, naming the field
    raw = m.rpartition(".")[2] if m else PurePath(script or "").stem
    return _NOT_IN_NAME_RE.sub("-", raw).strip("-_.")[:63] or "torchrun"


@dataclass(frozen=True)
class _JobRequest:
    """Everything ``ddp`` and ``spmd`` pass on to :func:`_torchrun_app`."""

    script_args: tuple[str, ...]
    script: str | None
    m: str | None
    name: str
    image: str
    interpreter: str
    env: dict[str, str]
    resource: Resource
    rdzv: Rendezvous
    max_retries: int


def _torchrun_app(shape: JobShape, job: _JobRequest) -> AppDef:
    job.rdzv.check(shape)
    target = _target(job.script, job.m)
    entrypoint, args = torchrun_command(
        job.interpreter or default_interpreter(job.image), shape, job.rdzv, target, job.script_args
    )
    name = _app_name(job.name, job.script, job.m)
    role = Role(
        name=name,
        image=job.image,
        entrypoint=entrypoint,
        args=args,
        env=job.env,
        num_replicas=shape.max_nodes,
        min_replicas=shape.min_nodes if shape.min_nodes != shape.max_nodes else None,
        max_retries=job.max_retries,
        resource=job.resource,
        port_map={} if shape.single_node else {"rdzv": job.rdzv.port or DEFAULT_RDZV_PORT},
    )
    return AppDef(name=name, roles=[role])


def ddp(
    *script_args: str,
    script: str | None = None,
    m: str | None = None,
    j: str = "1x2",
    name: str = "",
    image: str = "",
    interpreter: str = "",
    env: dict[str, str] | None = None,
    cpu: str = "",
    memory: str = "",
    gpu: int = 0,
    resource: str = "",
    rdzv_backend: str = "c10d",
    rdzv_port: int | None = None,
    max_restarts: int = 0,
    max_retries: int = 0,
) -> AppDef:
    """Distributed data parallel: run a script or module under torchrun on NODES x PROCS workers.

    Args:
        script_args: arguments passed to the script or module
        script: the training script to run (give this or --m)
        m: the module to run, as python -m (give this or --script)
        j: the job shape [min:]NODESxPROCS: NODES replicas (elastic from min), PROCS workers each
        name: the app and role name (default: the script's or module's name)
        image: image (or directory, for local) to run in
        interpreter: the python that runs torchrun (default: this one for local runs, else python3)
        env: extra environment variables, as k=v,k2=v2
        cpu: cores per node, or a quantity like 500m
        memory: memory per node: MiB, or a quantity like 4Gi
        gpu: GPUs per node
        resource: a named resource from a plugin; cpu, memory and gpu apply over it
        rdzv_backend: torchrun's rendezvous backend
        rdzv_port: the rendezvous port on rank 0's host (default: 29500, or a free port on 1 node)
        max_restarts: how often torchrun restarts the workers of a node before failing
        max_retries: how often the scheduler retries a failed replica
    """
    shape = parse_shape(j)
    job = _JobRequest(
        script_args=script_args,
        script=script,
        m=m,
        name=name,
        image=image,
        interpreter=interpreter,
        env=dict(env or {}),
        resource=resolve_resource(resource, cpu, memory, gpu),
        rdzv=Rendezvous(rdzv_backend, rdzv_port, max_restarts),
        max_retries=max_retries,
    )
    return _torchrun_app(shape, job)


def spmd(
    *script_args: str,
    script: str | None = None,
    m: str | None = None,
    j: str = "1",
    name: str = "",
    image: str = "",
    interpreter: str = "",
    env: dict[str, str] | None = None,
    cpu: str = "",
    memory: str = "",
    gpu: int = 0,
    resource: str = "",
    rdzv_backend: str = "c10d",
    rdzv_port: int | None = None,
    max_restarts: int = 0,
    max_retries: int = 0,
) -> AppDef:
    """Single program, multiple data: torchrun with one worker per GPU and OMP_NUM_THREADS=1.

    Args:
        script_args: arguments passed to the script or module
        script: the training script to run (give this or --m)
        m: the module to run, as python -m (give this or --script)
        j: the job shape [min:]NODES[xPROCS]; PROCS defaults to the GPUs per node (1 without)
        name: the app and role name (default: the script's or module's name)
        image: image (or directory, for local) to run in
        interpreter: the python that runs torchrun (default: this one for local runs, else python3)
        env: extra environment variables, as k=v,k2=v2 (OMP_NUM_THREADS defaults to 1)
        cpu: cores per node, or a quantity like 500m
        memory: memory per node: MiB, or a quantity like 4Gi
        gpu: GPUs per node
        resource: a named resource from a plugin; cpu, memory and gpu apply over it
        rdzv_backend: torchrun's rendezvous backend
        rdzv_port: the rendezvous port on rank 0's host (default: 29500, or a free port on 1 node)
        max_restarts: how often torchrun restarts the workers of a node before failing
        max_retries: how often the scheduler retries a failed replica
    """
    res = resolve_resource(resource, cpu, memory, gpu)
    shape = parse_shape(j, default_procs=max(res.gpu, 1))
    job = _JobRequest(
        script_args=script_args,
        script=script,
        m=m,
        name=name,
        image=image,
        interpreter=interpreter,
        env={"OMP_NUM_THREADS": "1", **(env or {})},
        resource=res,
        rdzv=Rendezvous(rdzv_backend, rdzv_port, max_restarts),
        max_retries=max_retries,
    )
    return _torchrun_app(shape, job)


__all__ = [
    "DEFAULT_RDZV_PORT",
    "JobShape",
    "Rendezvous",
    "ddp",
    "default_interpreter",
    "parse_shape",
    "resolve_resource",
    "spmd",
    "torchrun_command",
]
