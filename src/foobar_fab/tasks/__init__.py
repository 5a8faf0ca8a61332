"""The Invoke collection behind tasks.py: `invoke --list` shows these."""

from invoke import Collection

from ..settings import DEFAULTS
from . import bench, lab

ns = Collection(lab.build, lab.check, lab.status, lab.ssh, lab.destroy)
ns.add_collection(Collection.from_module(bench, name="bench"))
ns.configure({"lab": dict(DEFAULTS)})
