"""hgrid's Python handoff.

``hgrid.plan()`` reads this rank's plan (the JSON file named by HGRID_PLAN, which
hgrid-launch's exec handoff writes) into typed objects. ``hgrid.torch.init()`` turns it
into live torch.distributed groups. ``hgrid.heartbeat(step)`` feeds hgrid-launch's
stall detection and ``hgrid.restart_count()`` says which attempt of the job this is
(``Plan.restart_count`` too). Importing ``hgrid`` imports the standard library
only; ``hgrid.torch`` imports torch when its functions are called.
"""
from ._heartbeat import heartbeat, restart_count
from ._plan import (Bridge, Group, HgridError, Kind, Module, ModulePlan, Plan, PlanError,
                    RANK_PLAN_VERSION, load_plan, plan)

# include/hgrid/base.h's HG_VERSION_* (tests/python/test_package.py keeps them equal);
# the wheel's version is read from here (python/_build_backend.py).
__version__ = "0.3.0"
__all__ = ["Bridge", "Group", "HgridError", "Kind", "Module", "ModulePlan", "Plan",
           "PlanError", "RANK_PLAN_VERSION", "heartbeat", "load_plan", "plan", "restart_count"]
