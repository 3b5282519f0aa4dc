"""Image build and push progress: what it shows on a TTY, nothing off one, and what it keeps."""

from __future__ import annotations

import pytest

from torchrun_core.schedulers.shared.image_progress import BuildFailure, ImageProgress

BUILD = [
    {"stream": "Step 1/3 : FROM base\n"},
    {"stream": " ---> 1234\n"},
    {"stream": "Step 2/3 : RUN make\n"},
    {"stream": "compiling a\ncompiling b\n"},
    {"stream": "make: *** [all] Error 2\n"},
    {"error": "The command '/bin/sh -c make' returned a non-zero code: 2"},
]


def test_a_failed_step_names_itself_and_its_last_lines() -> None:
    with pytest.raises(BuildFailure) as caught, ImageProgress("build x", show=False) as progress:
        progress.follow_build(iter(BUILD))
    failure = caught.value
    assert failure.step == "Step 2/3 : RUN make"
    assert failure.last_lines == ["compiling a", "compiling b", "make: *** [all] Error 2"]
    assert "non-zero code: 2" in failure.error


def test_off_a_tty_nothing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with ImageProgress("build x", show=False) as progress:
        progress.follow_build(iter(BUILD[:4]))
        progress.push_event({"id": "aaa", "status": "Pushing", "progressDetail": {"total": 10}})
    assert capsys.readouterr() == ("", "")


def test_on_a_tty_the_steps_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    with ImageProgress("build x", show=True) as progress:
        progress.follow_build(iter(BUILD[:4]))
    out = capsys.readouterr()
    assert out.out == ""  # stdout is the command's output: progress goes to stderr
    assert "Step 1/3 : FROM base" in out.err
    assert "Step 2/3 : RUN make" in out.err


def test_a_push_counts_pushed_and_existing_layers_and_bytes() -> None:
    events = [
        {"id": "base", "status": "Layer already exists"},
        {"id": "new", "status": "Pushing", "progressDetail": {"current": 5, "total": 300}},
        {"id": "new", "status": "Pushing", "progressDetail": {"current": 300, "total": 300}},
        {"id": "new", "status": "Pushed"},
        {"status": "ws-1: digest: sha256:abc size: 527"},
    ]
    with ImageProgress("push x", show=False) as progress:
        for event in events:
            progress.push_event(event)
    assert progress.pushed_layers == {"new"}
    assert progress.existing_layers == {"base"}
    assert progress.pushed_bytes == 300
