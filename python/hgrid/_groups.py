"""hgrid.torch's torch-free logic: which groups a rank creates, how identical memberships
are shared, and which Megatron ProcessGroupCollection field gets which group. Kept apart
from torch so it is tested without torch. The kinds, their order and which of them hold
only some ranks come from the plan ("kinds"); what is Megatron's alone (its field names)
is here."""
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from ._plan import Kind, Plan

# Megatron ProcessGroupCollection fields that are another name of a plan kind
# (docs/DESIGN.md's kind table), placed right after that kind among the fields.
MEGATRON_ALIASES = {"intra_dp_cp": "dp_cp", "intra_expt_dp": "expt_dp"}
# Fields of newer Megatron-LM versions that hgrid's kinds determine too.
EXTRA_FIELD_KIND = {"intra_dist_opt": "tp_cp_dp_pp"}

Members = Tuple[int, ...]


def field_table(kinds: Iterable[str]) -> Dict[str, str]:
    """{field: plan kind} of the ProcessGroupCollection fields hgrid fills, in order: each
    kind of the plan under its own name, followed by its Megatron aliases."""
    table: Dict[str, str] = {}
    for k in kinds:
        table[k] = k
        for alias, kind in MEGATRON_ALIASES.items():
            if kind == k:
                table[alias] = k
    return table


def gtp_reduced(name: str, table: Mapping[str, str]) -> Optional[str]:
    """A gtp_remat field name reduced to the field it equals when gtp_remat is 1 (hgrid
    has no gtp_remat dimension, so it is always 1): the name without its "gtp" and
    "remat" parts, when that is a field hgrid fills; else None."""
    parts = name.split("_")
    if "gtp" not in parts and "remat" not in parts:
        return None
    rest = "_".join(p for p in parts if p not in ("gtp", "remat"))
    if rest in table or rest in EXTRA_FIELD_KIND:
        return rest
    return None


def field_kinds(field_names: Iterable[str],
                kinds: Iterable[str]) -> Tuple[Dict[str, str], List[str]]:
    """For a ProcessGroupCollection's field names and the plan's kinds: {field: plan kind}
    for every field hgrid determines, and the list of the others (left unset), in the
    given order."""
    table = field_table(kinds)
    out: Dict[str, str] = {}
    unset: List[str] = []
    for f in field_names:
        base = f if (f in table or f in EXTRA_FIELD_KIND) else gtp_reduced(f, table)
        if base is None:
            unset.append(f)
        else:
            out[f] = table.get(base) or EXTRA_FIELD_KIND[base]
    return out, unset


@dataclass
class GroupSpec:
    """What one rank creates. `create`: the distinct memberships to pass to new_group, in
    creation order (group_spec says why that order). A membership equal to the whole
    world is not created (the default group serves) when share_world is on. `modules`:
    per module name, {plan kind: members}. `kinds`: the plan's."""
    world_size: int
    create: List[Members] = field(default_factory=list)
    modules: Dict[str, Dict[str, Members]] = field(default_factory=dict)
    share_world: bool = True
    kinds: Dict[str, Kind] = field(default_factory=dict)

    def is_world(self, members: Members) -> bool:
        return self.share_world and len(members) == self.world_size

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


def group_spec(plan: Plan, share_world: bool = True) -> GroupSpec:
    """The groups this rank needs, from an hgrid.Plan: every group of every module of the
    rank (colocated: all modules), identical memberships once.

    Sharing, the same rule as the agent's (common/groups.c, hg_comm_set_build): a group
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
    group at the same count. tests/python/test_launch.py checks the equal counts for
    every rank of the golden layouts."""
    spec = GroupSpec(world_size=plan.world_size, share_world=share_world,
                     kinds=dict(plan.kinds))
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
            steps.append((plan.kinds[kind].partial, mi, order[kind], members))
        spec.modules[mp.module.name] = kinds
    for _, _, _, members in sorted(steps, key=lambda s: s[:3]):
        if members not in seen and not spec.is_world(members):
            seen.add(members)
            spec.create.append(members)
    return spec
