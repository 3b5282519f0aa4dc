"""Builtin scheduler plugins, installed as ``torchrun_core.schedulers``.

Each module registers itself through the ``torchrun_core`` entry-point group,
exactly like a third-party plugin.
"""
