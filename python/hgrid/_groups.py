"""hgrid.torch's torch-free logic: which groups a rank creates, how identical memberships
are shared, and which Megatron ProcessGroupCollection field gets which group. Kept apart
from torch so it is tested without torch. The kinds, their order, which of them hold
only some ranks and which fields each fills come from the plan ("kinds"); only plans
written before the plan named the fields need FALLBACK_FIELDS, here."""
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ._plan import Kind, Plan

# The fields of plans without "fields" (older plans), the one place this package names
# Megatron fields itself: field -> the plan kinds that give it, the first the plan has
# wins. Such a plan either has no gtp_remat kinds, and then gtp_remat = expert_gtp_remat
# = 1, where Megatron's topology sets dp_cp_gtp_remat to the dp_cp group, and so on; or
# it has them (a plan from between the kinds and their "fields"), and they give the field.
# Each field is placed right after its kind among the fields.
FALLBACK_FIELDS = {
    "intra_dp_cp": ("dp_cp",),
    "intra_expt_dp": ("expt_dp",),
    "intra_dist_opt": ("tp_cp_dp_pp",),
    "dp_cp_gtp_remat": ("gtp_remat_dp_cp", "dp_cp"),
    "expt_dp_gtp_remat": ("ep_gtp_remat_dp", "expt_dp"),
    "tp_ep_pp_with_egtp_remat": ("tp_ep_gtp_remat_pp", "tp_ep_pp"),
}

Members = Tuple[int, ...]


def kind_fields(kinds: Mapping[str, Kind]) -> Dict[str, Tuple[str, ...]]:
    """{plan kind: the ProcessGroupCollection fields its group fills}, in the plan's
    order: the kind's own name (hgrid's ProcessGroups has every kind by its name; the
    plan's names of kinds are Megatron's where Megatron has the group), then the plan's
    "fields" of the kind (or, for a plan without them, FALLBACK_FIELDS')."""
    if any(k.fields is not None for k in kinds.values()):
        return {n: (n,) + tuple(f for f in (k.fields or ()) if f != n)
                for n, k in kinds.items()}
    out = {n: [n] for n in kinds}
    for f, candidates in FALLBACK_FIELDS.items():
        kind = next((c for c in candidates if c in kinds), None)
        if kind is not None:
            out[kind].append(f)
    return {n: tuple(v) for n, v in out.items()}


def field_table(kinds: Mapping[str, Kind]) -> Dict[str, str]:
    """{field: plan kind} of every ProcessGroupCollection field the plan determines, in
    order (kind_fields')."""
    return {f: n for n, fields in kind_fields(kinds).items() for f in fields}


def field_kinds(field_names: Iterable[str],
                kinds: Mapping[str, Kind]) -> Tuple[Dict[str, str], List[str]]:
    """For a ProcessGroupCollection's field names and the plan's kinds: {field: plan kind}
    for every field the plan determines, and the list of the others (left unset), in the
    given order."""
    table = field_table(kinds)
    out: Dict[str, str] = {}
    unset: List[str] = []
    for f in field_names:
        if f in table:
            out[f] = table[f]
        else:
            unset.append(f)
    return out, unset


def priority_kinds(names: Iterable[str], kinds: Mapping[str, Kind]
                   ) -> Tuple[Set[str], List[str]]:
    """The plan kinds that `names` (plan kinds or ProcessGroupCollection fields, as
    Megatron's high_priority_stream_groups) name, and the names that are neither."""
    table = field_table(kinds)
    names = list(names)
    return {table[n] for n in names if n in table}, [n for n in names if n not in table]


@dataclass
class GroupSpec:
    """What one rank creates. `create`: the distinct memberships to pass to new_group, in
    creation order (group_spec says why that order). A membership equal to the whole
    world is not created (the default group serves) when share_world is on. `modules`:
    per module name, {plan kind: members}. `kinds`: the plan's. `high_priority`: the
    memberships to create on high-priority streams (NCCL); one of them that is the whole
    world is created too, not served by the default group."""
    world_size: int
    create: List[Members] = field(default_factory=list)
    modules: Dict[str, Dict[str, Members]] = field(default_factory=dict)
    share_world: bool = True
    kinds: Dict[str, Kind] = field(default_factory=dict)
    high_priority: Set[Members] = field(default_factory=set)

    def is_world(self, members: Members) -> bool:
        return (self.share_world and len(members) == self.world_size
                and members not in self.high_priority)

    @property
    def field_names(self) -> Tuple[str, ...]:
        """The ProcessGroupCollection fields hgrid fills, in order (hgrid.torch's
        ProcessGroups has these)."""
        return tuple(field_table(self.kinds))

    def fields(self, module: str, field_names: Optional[Iterable[str]] = None
               ) -> Tuple[Dict[str, Optional[Members]], List[str]]:
        """{field: members or None} for every field hgrid determines (by default
        field_names), and the unset fields. None: the rank is in no group of that kind
        (embd on a middle pipeline stage, embd and pos_embd of an encoder)."""
        names = self.field_names if field_names is None else field_names
        kinds, unset = field_kinds(names, self.kinds)
        groups = self.modules[module]
        return {f: groups.get(k) for f, k in kinds.items()}, unset


def group_spec(plan: Plan, share_world: bool = True,
               high_priority: Iterable[str] = ()) -> GroupSpec:
    """The groups this rank needs, from an hgrid.Plan: every group of every module of the
    rank (colocated: all modules), identical memberships once. `high_priority`: plan
    kinds (priority_kinds') whose groups go on high-priority streams; a membership is
    one group, so it is high-priority when any of its kinds is named. Every member
    finds the same kinds giving a membership (below), so the members agree.

    Sharing, the same rule as the agent's (common/grid/groups.c, hg_comm_set_build): a group
    whose members equal an earlier group's, of any kind of any module of the rank, is
    that group; one whose members are the whole world is the default group. So the rank
    holds the default group plus one group per distinct other membership: the agent's
    communicator count for the rank (its readiness record's "communicators").
    tests/python/test_launch.py checks the counts equal for every rank of the golden
    layouts.

    The creation order is what makes local synchronization work. torch names a group
    created with use_local_synchronization=True by its members and by how many groups
    the calling rank already has (len(_world.pg_names)), so every member of a group
    must create it as its same n-th group, or each waits under a different name for
    the others forever. Walking the modules in plan order and each module's kinds in
    the plan's order does that: a kind's groups are translates of one shape that tile
    the module, so two kinds' groups are identical at every rank of the module or at
    none, and every rank of a module creates the same number of groups up to each
    kind. Kinds that hold only some ranks of a module (the plan's "members": embd and
    pos_embd, the first and last pipeline stages) come after every other kind of every
    module. The same order makes the creation deadlock-free: every member reaches a
    group at the same count. tests/python/test_order.py checks the equal counts for
    every rank of the golden layouts, gtp_remat ones included."""
    spec = GroupSpec(world_size=plan.world_size, share_world=share_world,
                     kinds=dict(plan.kinds))
    hp = set(high_priority)
    order = {k: i for i, k in enumerate(plan.kinds)}
    seen = set()
    steps = []
    for mi, mp in enumerate(plan.modules):
        kinds: Dict[str, Members] = {}
        for kind, g in mp.groups.items():
            if g is None:
                continue
            members = tuple(g.members)
            kinds[kind] = members
            if kind in hp:
                spec.high_priority.add(members)
            steps.append((plan.kinds[kind].partial, mi, order[kind], members))
        spec.modules[mp.module.name] = kinds
    for _, _, _, members in sorted(steps, key=lambda s: s[:3]):
        if members not in seen and not spec.is_world(members):
            seen.add(members)
            spec.create.append(members)
    return spec


# Megatron's BridgeCommunicator (megatron/core/pipeline_parallel/bridge_communicator.py)
# keeps the groups of its bridges in two class-level dicts and creates a group only for a
# key it does not find there: _bridge_pg_cache, keyed by str(sorted(leaders)), holds the
# bridge's own group (new_group: a non-member gets GroupMember.NON_GROUP_MEMBER), and
# _broadcast_pg_cache, keyed by str(sorted(tuple(g) for g in a side's boundary groups)),
# the calling rank's boundary group of that side (new_subgroups_by_enumeration: None for
# a rank in none). Every rank constructs every bridge (MultiModulePipelineCommunicator),
# so hgrid fills both with every bridge's keys on every rank, and Megatron creates none.
BRIDGE_CACHE = "_bridge_pg_cache"
BROADCAST_CACHE = "_broadcast_pg_cache"


def bridge_key(members: Iterable[int]) -> str:
    """_bridge_pg_cache's key of a bridge's own group."""
    return str(sorted(members))


def broadcast_key(groups: Iterable[Iterable[int]]) -> str:
    """_broadcast_pg_cache's key of one side's boundary broadcast groups."""
    return str(sorted(tuple(g) for g in groups))


@dataclass
class BridgeSpec:
    """What one rank creates and hands to Megatron for the bridges. `create`: the bridge
    groups this rank leads (is a member of), plan order, each once. `every`: every bridge
    group of the layout, plan order, each once: the same list on every rank, the
    new_group calls each rank makes (bridge_spec says why). `caches`: {cache name:
    {key: members, or None where this rank is in no group of the key}}, every bridge of
    the layout."""
    create: List[Members] = field(default_factory=list)
    every: List[Members] = field(default_factory=list)
    caches: Dict[str, Dict[str, Optional[Members]]] = field(default_factory=dict)


def bridge_spec(plan: Plan) -> BridgeSpec:
    """The bridge groups of an hgrid.Plan (its "bridge_groups"; none in a plan written
    before it had them). Only leaders are in a bridge's own group; the boundary groups are
    the modules' tp_cp groups at the boundary stage, which group_spec already creates.

    Bridge groups are created after every module group, in plan (bridge) order, and not
    with local synchronization: that names a group by its members and by how many groups
    the creating rank already has, and a bridge group joins the leaders of two modules,
    whose ranks have made different numbers of module groups (two_encoders14: audio's
    leaders 2, language's 6 before [0, 1, 6, 8, 10, 12]), so its members would wait under
    different names forever. Every rank calls new_group for every group of `every`
    instead (a non-member gets NON_GROUP_MEMBER and creates nothing): torch names those
    by its count of such calls, the same on every rank."""
    spec = BridgeSpec(caches={BRIDGE_CACHE: {}, BROADCAST_CACHE: {}})
    me = plan.rank
    for b in plan.bridge_groups:
        mine = tuple(b.group) if me in b.group else None
        if tuple(b.group) not in spec.every:
            spec.every.append(tuple(b.group))
        spec.caches[BRIDGE_CACHE][bridge_key(b.group)] = mine
        if mine is not None and mine not in spec.create:
            spec.create.append(mine)
        for groups in (b.src_broadcast, b.dest_broadcast):
            spec.caches[BROADCAST_CACHE][broadcast_key(groups)] = next(
                (tuple(g) for g in groups if me in g), None)
    return spec
