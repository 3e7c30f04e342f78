"""Package mapping only; all metadata lives in pyproject.toml.

`converters/` and `models/` are top-level folders (DESIGN.md) that install as `edgeshare.converters`
and `edgeshare.models`. A static `packages` list in pyproject.toml would have to name every
subpackage by hand, so the list is computed here.
"""

from setuptools import find_packages, setup

MAPPED = {"edgeshare.converters": "converters", "edgeshare.models": "models"}

packages = find_packages(include=["edgeshare", "edgeshare.*"])
for name, folder in MAPPED.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(where=folder)]

# py.typed: the package ships its annotations (PEP 561).
setup(packages=packages, package_dir={"edgeshare": "edgeshare", **MAPPED}, package_data={"edgeshare": ["py.typed"]})
