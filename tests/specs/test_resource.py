"""Resource requests and the cpu/memory quantity parsers."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from pydantic import ValidationError

from torchrun_core.errors import SpecError
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.quantity import (
    CPU_PATTERN,
    MEMORY_PATTERN,
    parse_cpu,
    parse_memory_mb,
)
from torchrun_core.specs.resource import NULL_RESOURCE, Resource


@pytest.mark.parametrize(
    ("value", "cores"),
    [
        ("500m", 0.5),
        ("2", 2.0),
        (2, 2.0),
        ("1.5", 1.5),
        (1.5, 1.5),
        ("250m", 0.25),
        (" 3 ", 3.0),
        (".5", 0.5),
        ("0", 0.0),
        (0, 0.0),
    ],
)
def test_cpu_quantities(value: Any, cores: float) -> None:
    assert parse_cpu(value) == cores
    assert Resource(cpu=value).cpu == cores
    assert isinstance(Resource(cpu=value).cpu, float)


@pytest.mark.parametrize(
    "value",
    [
        "-1",
        -1,
        -0.5,
        "abc",
        "",
        "2x",
        "500M",
        "1Gi",
        "1e3",
        True,
        False,
        None,
        [1],
        math.nan,
        math.inf,
        "inf",
        "nan",
    ],
)
def test_bad_cpu_rejected(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_cpu(value)
    with pytest.raises(SpecError) as info:
        Resource(cpu=value)
    assert info.value.errors[0][0] == "cpu"


@pytest.mark.parametrize(
    ("value", "mib"),
    [
        ("512Mi", 512),
        ("4Gi", 4096),
        ("1G", math.ceil(1e9 / 2**20)),
        (1024, 1024),
        ("1Ki", 1),
        ("1Ti", 2**20),
        ("1.5Gi", 1536),
        ("1M", 1),
        ("1k", 1),
        (0, 0),
        (0.5, 1),
    ],
)
def test_memory_quantities(value: Any, mib: int) -> None:
    assert parse_memory_mb(value) == mib
    assert Resource(memory_mb=value).memory_mb == mib
    assert isinstance(Resource(memory_mb=value).memory_mb, int)


def test_one_gigabyte_is_954_mib() -> None:
    assert Resource(memory_mb="1G").memory_mb == 954


def test_unitless_memory_string_rejected_with_unit_hint() -> None:
    with pytest.raises(ValueError) as info:
        parse_memory_mb("512")
    msg = str(info.value)
    assert "unit" in msg
    assert "512Mi" in msg


@pytest.mark.parametrize(
    "value",
    [
        "-1Gi",
        -1,
        "abc",
        "4GB",
        "4gi",
        "",
        "Gi",
        True,
        False,
        None,
        {"a": 1},
        math.nan,
        math.inf,
        "1e9Mi",
    ],
)
def test_bad_memory_rejected(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_memory_mb(value)
    with pytest.raises(SpecError) as info:
        Resource(memory_mb=value)
    assert info.value.errors[0][0] == "memory_mb"


def test_bool_is_not_a_number_for_cpu_or_memory() -> None:
    # True would otherwise silently mean 1 core / 1 MiB.
    with pytest.raises(ValueError, match="cpu"):
        parse_cpu(True)
    with pytest.raises(ValueError, match="memory"):
        parse_memory_mb(True)


def test_gpus() -> None:
    assert Resource(gpu=2).gpu == 2
    assert Resource().gpu == 0
    with pytest.raises(SpecError):
        Resource(gpu=-1)
    with pytest.raises(SpecError):
        Resource(gpu=1.5)


def test_devices_and_capabilities() -> None:
    res = Resource(
        devices={"vpc.amazonaws.com/efa": 1},
        capabilities={"node.kubernetes.io/instance-type": "p4d"},
    )
    assert res.devices == {"vpc.amazonaws.com/efa": 1}
    assert res.capabilities["node.kubernetes.io/instance-type"] == "p4d"


def test_null_resource_requests_nothing() -> None:
    assert Resource(cpu=0, memory_mb=0, gpu=0) == NULL_RESOURCE


def test_resource_is_frozen_and_strict() -> None:
    res = Resource(cpu=1)
    with pytest.raises(ValidationError):
        res.cpu = 2  # type: ignore[misc]
    with pytest.raises(SpecError):
        Resource(cpus=1)  # type: ignore[call-arg]


def test_quantity_error_in_app_names_path_and_hint() -> None:
    data = {
        "name": "a",
        "roles": [{"name": "r", "entrypoint": "e", "resource": {"memory_mb": "512"}}],
    }
    with pytest.raises(SpecError) as info:
        AppDef.parse(data)
    [(path, msg)] = info.value.errors
    assert path == "roles[0].resource.memory_mb"
    assert "512Mi" in msg


@pytest.mark.parametrize(
    "text", ["500m", "2", " 1.5 ", ".5", "1Gi", "512Mi", "1G", "4gi", "-1", "1e3", "abc", "2x", ""]
)
def test_schema_patterns_accept_exactly_what_the_parsers_accept(text: str) -> None:
    for pattern, parse in ((CPU_PATTERN, parse_cpu), (MEMORY_PATTERN, parse_memory_mb)):
        try:
            parse(text)
            parsed = True
        except ValueError:
            parsed = False
        assert (re.search(pattern, text) is not None) == parsed, (pattern, text)
