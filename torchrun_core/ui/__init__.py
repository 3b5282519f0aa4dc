"""``torchrun-core ui``: a local web dashboard of the runs in the run store.

Installed with the ``[ui]`` extra (Starlette, served by uvicorn). It reads
through the Runner and the run store only, so a plugin's scheduler shows up
with no work from its author.

Modules:
    settings     where it binds, the access token, whether actions are allowed
    security     token, Host and cross-site checks, and the response headers
    params       query parameters read into the Runner's arguments
    http_errors  project errors as JSON answers with an HTTP status
    runs_api     the runs, a run, its events, request, metrics and checkpoints
    series       metric points as chart series, downsampled
    logs_api     a replica's log: pages, and a live stream of new lines
    line_feed    carries lines from a reading thread to an async response
    actions_api  cancel and rerun, when ``--allow-actions`` was given
    app          the Starlette application, assembled
    server       binds, prints the URL, serves until Ctrl-C
"""
