"""hgrid.torch's torch-free logic: which groups a rank creates, how identical memberships
are shared, and which Megatron ProcessGroupCollection field gets which group. Kept apart
from torch so it is tested without torch."""
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

# Megatron's ProcessGroupCollection fields hgrid fills, and the plan's kind for each
# (docs/DESIGN.md's kind table: intra_dp_cp = dp_cp, intra_expt_dp = expt_dp).
FIELD_KIND = {
    "tp": "tp", "cp": "cp", "pp": "pp", "dp": "dp", "dp_cp": "dp_cp",
    "intra_dp_cp": "dp_cp", "tp_cp": "tp_cp", "mp": "mp", "tp_dp": "tp_dp",
    "tp_dp_cp": "tp_dp_cp", "ep": "ep", "expt_tp": "expt_tp", "expt_dp": "expt_dp",
    "intra_expt_dp": "expt_dp", "tp_ep": "tp_ep", "tp_ep_pp": "tp_ep_pp",
    "embd": "embd", "pos_embd": "pos_embd",
}
FIELDS = tuple(FIELD_KIND)
# Fields of newer Megatron-LM versions that hgrid's kinds determine too.
EXTRA_FIELD_KIND = {"intra_dist_opt": "tp_cp_dp_pp"}

Members = Tuple[int, ...]


def gtp_reduced(name: str) -> Optional[str]:
    """A gtp_remat field name reduced to the field it equals when gtp_remat is 1 (hgrid
    has no gtp_remat dimension, so it is always 1): the name without its "gtp" and
    "remat" parts, when that is a field hgrid fills; else None."""
    parts = name.split("_")
    if "gtp" not in parts and "remat" not in parts:
        return None
    rest = "_".join(p for p in parts if p not in ("gtp", "remat"))
    if rest in FIELD_KIND or rest in EXTRA_FIELD_KIND:
        return rest
    return None


def field_kinds(field_names: Iterable[str]) -> Tuple[Dict[str, str], List[str]]:
    """For a ProcessGroupCollection's field names: {field: plan kind} for every field
    hgrid determines, and the list of the others (left unset), in the given order."""
    kinds, unset = {}, []
    for f in field_names:
        base = f if (f in FIELD_KIND or f in EXTRA_FIELD_KIND) else gtp_reduced(f)
        if base is None:
            unset.append(f)
        else:
            kinds[f] = FIELD_KIND.get(base) or EXTRA_FIELD_KIND[base]
    return kinds, unset


# The plan's kinds in include/hgrid/base.h's order; a kind not listed (a newer plan's)
# sorts after these, by name.
KIND_ORDER = ("tp", "cp", "pp", "dp", "dp_cp", "tp_cp", "mp", "tp_dp", "tp_dp_cp",
              "tp_cp_dp_pp",              "ep", "expt_tp", "expt_dp", "tp_ep", "tp_ep_pp", "embd", "pos_embd")
# Kinds only some ranks of a module are in (the first and last pipeline stages).
PARTIAL_KINDS = ("embd", "pos_embd")


def _kind_key(kind: str):
    return (KIND_ORDER.index(kind), "") if kind in KIND_ORDER else (len(KIND_ORDER), kind)


@dataclass
class GroupSpec:
    """What one rank creates. `create`: the distinct memberships to pass to new_group, in
    creation order (group_spec says why that order). A membership equal to the whole
    world is not created (the default group serves) when share_world is on. `modules`:
    per module name, {plan kind: members}."""
    world_size: int
    create: List[Members] = field(default_factory=list)
    modules: Dict[str, Dict[str, Members]] = field(default_factory=dict)
    share_world: bool = True

    def is_world(self, members: Members) -> bool:
        return self.share_world and len(members) == self.world_size

    def fields(self, module: str, field_names: Iterable[str] = FIELDS):
        """{field: members or None} for every field hgrid determines, and the unset
        fields. None: the rank is in no group of that kind (embd on a middle pipeline
        stage, embd and pos_embd of an encoder)."""
        kinds, unset = field_kinds(field_names)
        groups = self.modules[module]
        return {f: groups.get(k) for f, k in kinds.items()}, unset


def group_spec(plan, share_world: bool = True) -> GroupSpec:
    """The groups this rank needs, from an hgrid.Plan: every group of every module of the
    rank (colocated: all modules), identical memberships once.

    The creation order is what makes local synchronization work. torch names a group
    created with use_local_synchronization=True by its members and by how many groups
    the calling rank already has (len(_world.pg_names)), so every member of a group
    must create it as its same n-th group, or each waits under a different name for
    the others forever. Walking the modules in plan order and each module's kinds in
    one fixed order does that: a kind's groups are translates of one shape that tile
    the module, so two kinds' groups are identical at every rank of the module or at
    none, and every rank of a module creates the same number of groups up to each
    kind. embd and pos_embd, which only the first and last pipeline stages are in,
    come after every other kind of every module. The same order makes the creation
    deadlock-free: every member reaches a group at the same count.
    tests/python_test.sh checks the equal counts for every rank of the golden layouts."""
    spec = GroupSpec(world_size=plan.world_size, share_world=share_world)
    seen = set()
    steps = []
    for mi, mp in enumerate(plan.modules):
        kinds = {}
        for kind, g in mp.groups.items():
            if g is None:
                continue
            members = tuple(g.members)
            kinds[kind] = members
            steps.append((kind in PARTIAL_KINDS, mi, _kind_key(kind), members))
        spec.modules[mp.module.name] = kinds
    for _, _, _, members in sorted(steps, key=lambda s: s[:3]):
        if members not in seen and not spec.is_world(members):
            seen.add(members)
            spec.create.append(members)
    return spec


def megatron_order(full_plan: dict, dedup: bool = False) -> List[Members]:
    """Megatron's way, for comparison (scripts/bench-torch-groups): every group of every
    kind of every module of the whole layout's plan (`hgrid-launch --dry-run --format
    json`), created by every rank in the same order. HyperCommGrid makes one group per
    kind (dims), even where two kinds have the same members; dedup=True makes each
    membership once."""
    seen, order = set(), []
    for m in full_plan["modules"]:
        for kind, groups in full_plan["groups"][m["name"]].items():
            for g in groups:
                t = tuple(g)
                if dedup and t in seen:
                    continue
                seen.add(t)
                order.append(t)
    return order
