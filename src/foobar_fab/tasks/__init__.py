"""The Invoke collection behind tasks.py: `invoke --list` shows these."""

from invoke import Collection

from ..settings import DEFAULTS
from . import bench, buildit, cache, classroom, db, docs, drill, exercise, lab, lb, lesson, web

ns = Collection(lab.build, lab.check, lab.status, lab.ssh, lab.destroy, lab.watch, lab.scan, lab.sniff, lab.alerts, web.web)
ns.add_collection(Collection.from_module(bench, name="bench"))
ns.add_collection(Collection.from_module(cache, name="cache"))
ns.add_collection(Collection("drill", *drill.TASKS))
ns.add_collection(Collection.from_module(db, name="db"))
ns.add_collection(Collection.from_module(lb, name="lb"))
ns.add_collection(Collection.from_module(exercise, name="exercise"))
ns.add_collection(Collection.from_module(buildit, name="build-it"))
ns.add_collection(Collection.from_module(docs, name="docs"))
ns.add_collection(Collection.from_module(classroom, name="class"))
ns.add_collection(Collection.from_module(lesson, name="lesson"))
ns.configure({"lab": dict(DEFAULTS)})
