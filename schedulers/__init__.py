"""Builtin scheduler plugins, installed as ``torchrun_core.schedulers``.

One package per backend (``local``, ``docker``, ``kubernetes``, ``slurm``);
each package's ``__init__`` is its plugin module, registered through the
``torchrun_core`` entry-point group exactly like a third-party plugin.
``shared`` holds helpers more than one backend uses. A backend imports only
the plugin SPI (``torchrun_core.plugin`` and the modules it names) and
``shared``, never another backend: ``.importlinter`` checks it.
"""
