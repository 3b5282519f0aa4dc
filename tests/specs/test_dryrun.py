"""Dry-run info printing and secret redaction."""

from __future__ import annotations

from typing import Any

import pytest

from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.dryrun import REDACTED, AppDryRunInfo, is_secret_key, redact_env

SECRET_KEYS = [
    "SECRET",
    "MY_SECRET",
    "AWS_SECRET_ACCESS_KEY",
    "GITHUB_TOKEN",
    "HF_TOKEN",
    "token",
    "DB_PASSWORD",
    "db_password",
    "PGPASSWD",
    "SSH_PASSPHRASE",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "PRIVATE_KEY",
    "API_KEY",
    "OPENAI_API_KEY",
    "WANDB_APIKEY",
    "AWS_ACCESS_KEY_ID",
    "BASIC_AUTH",
    # *KEY* anywhere, as documented (docs/app-files.md)
    "KEY",
    "MY_KEY",
    "SSH_KEY",
    "KEYFILE",
    "key_id",
    "SIGNINGKEY",
]
PLAIN_KEYS = ["PATH", "HOME", "LR", "WORLD_SIZE", "MASTER_ADDR", "CUDA_VISIBLE_DEVICES", "KE_Y"]
# The price of a broad pattern: names that merely contain a word are hidden too.
OVER_REDACTED_KEYS = ["MONKEY", "SORT_KEY", "AUTHOR"]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_looking_keys_are_detected(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", OVER_REDACTED_KEYS)
def test_names_merely_containing_a_secret_word_are_hidden_too(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", PLAIN_KEYS)
def test_plain_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_redact_env_hides_secret_values_and_keeps_the_rest() -> None:
    env = {k: f"value-of-{k}" for k in SECRET_KEYS + PLAIN_KEYS}
    redacted = redact_env(env)
    assert list(redacted) == list(env)  # same keys, same order
    for key in SECRET_KEYS:
        assert redacted[key] == REDACTED
    for key in PLAIN_KEYS:
        assert redacted[key] == f"value-of-{key}"
    assert all("value-of" not in v for k, v in redacted.items() if k in SECRET_KEYS)
    assert env["HF_TOKEN"] == "value-of-HF_TOKEN"  # the input is not changed


def test_redaction_is_by_key_not_value() -> None:
    assert redact_env({"NOTE": "my password is hunter2"}) == {"NOTE": "my password is hunter2"}
    assert redact_env({}) == {}


def make_info(**over: Any) -> AppDryRunInfo[dict[str, Any]]:
    app = AppDef(name="a", roles=[Role(name="r", entrypoint="e", env={"HF_TOKEN": "s3cr3t"})])
    request = {"env": dict(app.roles[0].env), "cmd": ["e"]}
    return AppDryRunInfo(request=request, app=app, scheduler="mem", session="s", cfg=None, **over)


def test_str_uses_the_formatter() -> None:
    info = make_info(formatter=lambda req: f"cmd={req['cmd']} env={redact_env(req['env'])}")
    text = str(info)
    assert "s3cr3t" not in text
    assert REDACTED in text
    assert "cmd=['e']" in text
    # the request itself keeps the real value: schedule() submits exactly it
    assert info.request["env"]["HF_TOKEN"] == "s3cr3t"


def test_default_formatter_is_repr_with_secrets_still_redacted() -> None:
    info = make_info()
    assert str(info) == repr(info.request).replace("s3cr3t", REDACTED)
    assert "formatter" not in repr(info)
    assert info.app_id is None


def test_secret_values_are_redacted_even_when_the_formatter_forgets() -> None:
    app = AppDef(
        name="a",
        roles=[
            Role(name="r", entrypoint="e", env={"API_KEY": "abcd1234", "SHORT_TOKEN": "on"}),
            Role(name="s", entrypoint="e", env={"DB_PASSWORD": "abcd12345678", "LR": "abcd"}),
        ],
    )
    request = ["--key=abcd1234", "--pw=abcd12345678", "--lr=abcd", "--flag=on"]
    info: AppDryRunInfo[list[str]] = AppDryRunInfo(
        request=request, app=app, scheduler="mem", session="s", cfg=None, formatter=" ".join
    )
    # longest first, so the longer secret is not left half-printed
    assert str(info) == f"--key={REDACTED} --pw={REDACTED} --lr=abcd --flag=on"
    assert info.request == request
