"""App specs. Import from the submodules (or the ``torchrun_core`` facade).

This package file stays empty so that light submodules (``state``,
``handle``) can be imported without paying for pydantic.
"""
