"""This rank's plan (HGRID_PLAN) as typed objects. Standard library only.

The plan describes itself: its schema version ("hgrid_rank_plan") and its group kinds
with the dims each spans ("kinds", written by common/grid/plan.c from common/grid/layout.c's
table). This package keeps no table of kinds of its own."""
import json
import os
from dataclasses import MISSING, dataclass, field, fields as dataclass_fields
from typing import Any, Dict, List, Optional, Tuple, Union

# The plan schema this reader understands: common/grid/plan.h's HG_PLAN_VERSION (tested equal).
RANK_PLAN_VERSION = 1
ENV = "HGRID_PLAN"


class HgridError(Exception):
    """Base of every error hgrid's Python package raises (PlanError, HgridTorchError)."""


class PlanError(HgridError):
    """The plan cannot be read: HGRID_PLAN unset, the file missing, not JSON, or not an
    hgrid rank plan. The message names the variable or the path."""


@dataclass(frozen=True)
class Kind:
    """A group kind as the plan describes it: the view ("dense" or "expert") and the dims
    its groups span, grid order (first fastest). `members`: None when a group holds every
    rank its dims span; else which ones ("first and last", "first": embd, pos_embd), and
    then only some ranks of a module are in a group of the kind. `roles`: the module roles
    that have the kind (None: every module). `fields`: the Megatron ProcessGroupCollection
    fields a group of the kind fills (intra_dist_opt for tp_cp_dp_pp, ...); None in plans
    written before the plan said so (hgrid/_groups.py then has them)."""
    name: str
    view: str
    dims: Tuple[str, ...]
    members: Optional[str] = None
    roles: Optional[Tuple[str, ...]] = None
    fields: Optional[Tuple[str, ...]] = None

    @property
    def partial(self) -> bool:
        return self.members is not None


@dataclass(frozen=True)
class Module:
    name: str
    role: str  # "encoder" | "language"
    offset: int
    size: int
    tp: int
    cp: int
    dp: int
    pp: int
    ep: int
    expert_tp: int
    expert_dp: int
    # Generalized Tensor Parallelism; 1 in plans written before hgrid had it.
    gtp_remat: int = 1
    expert_gtp_remat: int = 1


@dataclass(frozen=True)
class Group:
    kind: str
    index: int  # which group of its kind in the module
    rank: int  # this rank's position in members
    members: Tuple[int, ...]


@dataclass(frozen=True)
class Bridge:
    src: str
    dest: str
    side: str  # "src" | "dest"
    role: str  # "sender" | "receiver" | "member"
    peers: List[int]  # ranks it sends to (sender) or receives from (receiver)
    leader: int  # the leader of its boundary group
    broadcast: List[int]  # the boundary group's members
    # The bridge's own group: both sides' leaders, ascending (Megatron's bridge_pg); ()
    # in plans written before the plan had it.
    group: Tuple[int, ...] = ()


@dataclass(frozen=True)
class BridgeGroups:
    """One bridge of the layout (the rank's or not), with its groups: its own group (both
    sides' leaders, ascending) and each side's boundary broadcast groups, one per leader
    (the module's tp_cp groups at the boundary pipeline stage)."""
    src: str
    dest: str
    group: Tuple[int, ...]
    src_broadcast: Tuple[Tuple[int, ...], ...]
    dest_broadcast: Tuple[Tuple[int, ...], ...]


@dataclass(frozen=True)
class ModulePlan:
    """One module's view of this rank: its coordinates and groups."""
    module: Module
    module_rank: int
    coords: Dict[str, int]
    groups: Dict[str, Optional[Group]]  # None: the rank is in no group of that kind


@dataclass(frozen=True)
class Plan:
    rank: int
    world_size: int
    layout: str  # "disjoint" | "colocated"
    module: Module  # this rank's module (colocated: the language module)
    module_rank: int
    coords: Dict[str, int]
    groups: Dict[str, Optional[Group]]  # by kind (tp, ..., embd, pos_embd); None: in none
    bridges: List[Bridge] = field(default_factory=list)
    # Every module of the rank, in config order: one entry when disjoint, every module
    # when colocated.
    modules: List[ModulePlan] = field(default_factory=list)
    path: Optional[str] = None
    # The plan's kinds in its order (include/hgrid/base.h's), and its schema version.
    kinds: Dict[str, Kind] = field(default_factory=dict)
    version: int = RANK_PLAN_VERSION
    # Every bridge of the layout with its groups ("bridge_groups"), plan order; [] when
    # colocated, without bridges, or in plans written before the plan had them.
    bridge_groups: List[BridgeGroups] = field(default_factory=list)

    @property
    def restart_count(self) -> int:
        """Which attempt of the job this is (0 first; hgrid-launch --max-restarts)."""
        from ._heartbeat import restart_count
        return restart_count()

    def module_plan(self, name: str) -> ModulePlan:
        for m in self.modules:
            if m.module.name == name:
                return m
        raise KeyError("rank %d has no module %r (it has %s)"
                       % (self.rank, name, ", ".join(m.module.name for m in self.modules)))


# The plan's module keys are Module's integer fields, so a new dim is one field there
# (tests/python/test_dims.py checks them against the launcher's plans): those without a
# default every plan has; those with one (1), plans written before hgrid had them lack.
MODULE_INT_KEYS = tuple(f.name for f in dataclass_fields(Module) if f.type in (int, "int")
                        and f.default is MISSING)
MODULE_OPTIONAL_KEYS = tuple(f.name for f in dataclass_fields(Module) if f.type in (int, "int")
                             and f.default is not MISSING)


class _Reader:
    def __init__(self, where: str):
        self.where = where
        self.kinds: Dict[str, Kind] = {}

    def fail(self, what: str):
        raise PlanError("%s: not a valid hgrid rank plan: %s" % (self.where, what))

    def obj(self, d, key, ctx):
        v = d.get(key) if isinstance(d, dict) else None
        if not isinstance(v, dict):
            self.fail("%s%s must be an object" % (ctx, key))
        return v

    def int_(self, d, key, ctx, minimum=0):
        if key not in d:
            self.fail("%s%s is missing" % (ctx, key))
        v = d[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            self.fail("%s%s must be an integer >= %d (got %s)" % (ctx, key, minimum, json.dumps(v)))
        return v

    def str_(self, d, key, ctx, choices=None):
        v = d.get(key)
        if not isinstance(v, str) or (choices and v not in choices):
            self.fail("%s%s must be %s (got %s)" % (
                ctx, key, " or ".join(map(json.dumps, choices)) if choices else "a string",
                json.dumps(v)))
        return v

    def ranks(self, d, key, ctx, world):
        v = d.get(key)
        if not isinstance(v, list) or not all(
                isinstance(r, int) and not isinstance(r, bool) and 0 <= r < world for r in v):
            self.fail("%s%s must be a list of ranks in [0, %d)" % (ctx, key, world))
        return list(v)

    def strs(self, d, key, ctx, empty=False):
        v = d.get(key)
        if not isinstance(v, list) or not (v or empty) or not all(isinstance(x, str) for x in v):
            self.fail("%s%s must be a %slist of strings"
                      % (ctx, key, "" if empty else "non-empty "))
        return tuple(v)

    def kinds_(self, d):
        kinds = {}
        for name, k in self.obj(d, "kinds", "").items():
            c = "kinds.%s." % name
            if not isinstance(k, dict):
                self.fail("kinds.%s must be an object" % name)
            kinds[name] = Kind(name=name, view=self.str_(k, "view", c, ("dense", "expert")),
                               dims=self.strs(k, "dims", c),
                               members=self.str_(k, "members", c) if "members" in k else None,
                               roles=self.strs(k, "roles", c) if "roles" in k else None,
                               fields=self.strs(k, "fields", c, empty=True)
                               if "fields" in k else None)
        self.check_fields(kinds)
        return kinds

    def check_fields(self, kinds):
        """Every kind says its fields or none does (an older plan), and no field is
        filled by two kinds."""
        said = [n for n, k in kinds.items() if k.fields is not None]
        if said and len(said) != len(kinds):
            self.fail("kinds.%s.fields is missing (kinds.%s has fields)"
                      % ([n for n in kinds if n not in said][0], said[0]))
        owner = {n: n for n in kinds}  # a kind's own name is its own
        for n, k in kinds.items():
            for f in k.fields or ():
                if owner.setdefault(f, n) != n:
                    self.fail("kinds.%s.fields: %s is kinds.%s's already" % (n, f, owner[f]))

    def module(self, d, ctx):
        m = self.obj(d, "module", ctx)
        c = ctx + "module."
        ints = {k: self.int_(m, k, c, 1 if k != "offset" else 0) for k in MODULE_INT_KEYS}
        ints.update({k: self.int_(m, k, c, 1) for k in MODULE_OPTIONAL_KEYS if k in m})
        return Module(name=self.str_(m, "name", c),
                      role=self.str_(m, "role", c, ("encoder", "language")), **ints)

    def module_plan(self, d, ctx, rank, world):
        module = self.module(d, ctx)
        coords_raw = self.obj(d, "coords", ctx)
        coords = {k: self.int_(coords_raw, k, ctx + "coords.") for k in coords_raw}
        groups = {}
        for kind, g in self.obj(d, "groups", ctx).items():
            c = "%sgroups.%s." % (ctx, kind)
            if kind not in self.kinds:
                self.fail("%sgroups.%s is not one of the plan's kinds" % (ctx, kind))
            if g is None:  # the rank is in no group of this kind (embd, pos_embd)
                groups[kind] = None
                continue
            if not isinstance(g, dict):
                self.fail("%sgroups.%s must be an object" % (ctx, kind))
            members = self.ranks(g, "members", c, world)
            if rank not in members:
                self.fail("%smembers does not hold rank %d" % (c, rank))
            groups[kind] = Group(kind=kind, index=self.int_(g, "index", c),
                                 rank=self.int_(g, "rank", c), members=tuple(members))
        return ModulePlan(module=module, module_rank=self.int_(d, "module_rank", ctx),
                          coords=coords, groups=groups)


def load_plan(data: Any, where: str = "plan") -> Plan:
    """A Plan from an already-parsed per-rank plan (the dict of `hgrid-launch --dry-run
    --format json --rank N`). `where` names the source in error messages."""
    r = _Reader(where)
    if not isinstance(data, dict) or "hgrid_rank_plan" not in data:
        if isinstance(data, dict) and "hgrid_plan" in data:
            raise PlanError('%s: this is the whole layout\'s plan ("hgrid_plan"), not one '
                            'rank\'s: use hgrid-launch --dry-run --format json --rank N' % where)
        raise PlanError('%s: not an hgrid rank plan (no "hgrid_rank_plan" key)' % where)
    version = data["hgrid_rank_plan"]
    if version != RANK_PLAN_VERSION:
        raise PlanError("%s: hgrid_rank_plan version %s is not supported (this hgrid reads "
                        "version %d)" % (where, json.dumps(version), RANK_PLAN_VERSION))
    r.kinds = r.kinds_(data)
    world = r.int_(data, "world_size", "", 1)
    rank = r.int_(data, "rank", "")
    if rank >= world:
        r.fail("rank %d is not below world_size %d" % (rank, world))
    top = r.module_plan(data, "", rank, world)
    bridges = []
    raw_bridges = data.get("bridges", [])
    if not isinstance(raw_bridges, list):
        r.fail("bridges must be a list")
    for i, b in enumerate(raw_bridges):
        c = "bridges[%d]." % i
        if not isinstance(b, dict):
            r.fail("bridges[%d] must be an object" % i)
        bridges.append(Bridge(src=r.str_(b, "src", c), dest=r.str_(b, "dest", c),
                              side=r.str_(b, "side", c, ("src", "dest")),
                              role=r.str_(b, "role", c, ("sender", "receiver", "member")),
                              peers=r.ranks(b, "peers", c, world),
                              leader=r.int_(b, "leader", c),
                              broadcast=r.ranks(b, "broadcast", c, world),
                              group=tuple(r.ranks(b, "group", c, world)) if "group" in b
                              else ()))
    bridge_groups = []
    raw_groups = data.get("bridge_groups", [])
    if not isinstance(raw_groups, list):
        r.fail("bridge_groups must be a list")
    for i, b in enumerate(raw_groups):
        c = "bridge_groups[%d]." % i
        if not isinstance(b, dict):
            r.fail("bridge_groups[%d] must be an object" % i)
        sides = {}
        for side in ("src_broadcast", "dest_broadcast"):
            v = b.get(side)
            if not isinstance(v, list):
                r.fail("%s%s must be a list of lists of ranks" % (c, side))
            sides[side] = tuple(tuple(r.ranks({"[%d]" % j: x}, "[%d]" % j, c + side, world))
                                for j, x in enumerate(v))
        bridge_groups.append(BridgeGroups(src=r.str_(b, "src", c), dest=r.str_(b, "dest", c),
                                          group=tuple(r.ranks(b, "group", c, world)), **sides))
    if "modules" in data:
        raw = data["modules"]
        if not isinstance(raw, list) or not raw:
            r.fail("modules must be a non-empty list")
        modules = [r.module_plan(m, "modules[%d]." % i, rank, world) for i, m in enumerate(raw)]
        layout = "colocated"
    else:
        modules = [top]
        layout = "disjoint"
    return Plan(rank=rank, world_size=world, layout=layout, module=top.module,
                module_rank=top.module_rank, coords=top.coords, groups=top.groups,
                bridges=bridges, modules=modules, path=None if where == "plan" else where,
                kinds=r.kinds, version=version, bridge_groups=bridge_groups)


def plan(path: Optional[Union[str, "os.PathLike[str]"]] = None) -> Plan:
    """This rank's plan: from `path`, else from the file HGRID_PLAN names."""
    if path is None:
        path = os.environ.get(ENV)
        if not path:
            raise PlanError("%s is not set: start this program with hgrid-launch (its exec "
                            "handoff sets it), or pass hgrid.plan(path)" % ENV)
        where = "%s=%s" % (ENV, path)
    else:
        path = os.fspath(path)
        where = path
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise PlanError("%s: cannot read the plan: %s" % (where, e.strerror or e)) from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise PlanError("%s: not JSON: %s" % (where, e)) from None
    p = load_plan(data, where)
    return Plan(**{**p.__dict__, "path": path})
