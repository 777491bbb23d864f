"""Live torch.distributed groups from this rank's hgrid plan.

    import hgrid.torch
    groups = hgrid.torch.init()          # init_process_group from the env, then the groups
    pgc = groups.pgc                     # this rank's module (colocated: language)
    torch.distributed.all_reduce(x, group=pgc.dp)
    groups["vision"].tp                  # colocated: any module of the rank
    groups.bridges                       # the plan's bridges that touch this rank
    groups.bridge_caches                 # every bridge's groups, by Megatron's cache keys
    groups.destroy()
    hgrid.torch.time_collectives()       # for --stragglers without init() (torch < 2.1)

Only this rank's groups are created, each with new_group(ranks,
use_local_synchronization=True), identical memberships once (across modules too); the
bridges' own groups are the exception: every rank calls new_group(ranks) for each of
them, non-members creating nothing (_groups.bridge_spec says why).
torch is imported when init() is called, never by `import hgrid.torch`.
"""
import dataclasses
import inspect
import os
import warnings
from datetime import timedelta
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple, Type, Union

from . import _groups, _heartbeat
from ._plan import HgridError, Plan, plan as _read_plan

# The oldest torch hgrid.torch works with: new_group(..., use_local_synchronization=True)
# came in 2.1. Both "needs torch" errors say it from here.
TORCH_MIN = "2.1"


class HgridTorchError(HgridError, RuntimeError):
    """hgrid.torch cannot set up the groups (torch too old, env missing or inconsistent
    with the plan)."""


class ProcessGroups:
    """hgrid's stand-in for Megatron's ProcessGroupCollection (used when Megatron is not
    importable): the same field names, None where the rank is in no such group."""

    def __init__(self, module: str, fields: Iterable[str], **groups: Any):
        self.module = module
        self.fields: Tuple[str, ...] = tuple(fields)  # the plan's kinds and their aliases
        for f in self.fields:
            setattr(self, f, groups.get(f))
        self.unset_fields: List[str] = []

    def __repr__(self) -> str:
        return "ProcessGroups(module=%r, %s)" % (self.module, ", ".join(
            "%s=%s" % (f, "None" if getattr(self, f) is None else "<group>")
            for f in self.fields))


class Groups:
    """What init() returns: per module name, a ProcessGroupCollection (Megatron's when
    importable, else ProcessGroups); the rank's bridges; destroy()."""

    def __init__(self, plan: Plan, modules: Dict[str, Any], created: Dict[Tuple[int, ...], Any],
                 initialized_here: bool, spec: _groups.GroupSpec,
                 notes: Optional[List[str]] = None):
        self.plan = plan
        self.modules = modules
        self.bridges = list(plan.bridges)
        self.created = created  # members -> group, what init created
        self.spec = spec
        self.initialized_here = initialized_here
        self.notes: List[str] = list(notes or [])  # what init() did not do, and why
        # {cache name: {key: live group}} handed to Megatron's BridgeCommunicator (the
        # class, when importable: bridge_class), _groups.bridge_spec's keys.
        self.bridge_caches: Dict[str, Dict[str, Any]] = {}
        self.bridge_class: Optional[Type[Any]] = None
        self._destroyed = False

    @property
    def pgc(self) -> Any:
        """The collection of the rank's module (colocated: the language module)."""
        return self.modules[self.plan.module.name]

    def __getitem__(self, module: str) -> Any:
        return self.modules[module]

    def group(self, members: Iterable[int]) -> Any:
        """The live group of a membership (the default group for the whole world)."""
        import torch.distributed as dist
        t = tuple(members)
        if self.spec.is_world(t):
            return dist.group.WORLD
        return self.created[t]

    def destroy(self) -> None:
        """Destroys the groups init() created, and the default group if init() made it."""
        if self._destroyed:
            return
        import torch.distributed as dist
        self._destroyed = True
        if not dist.is_initialized():
            return
        for pg in self.created.values():
            dist.destroy_process_group(pg)
        self.created = {}
        # Megatron's caches would hold destroyed groups: take back what init() put there.
        for name, entries in self.bridge_caches.items():
            cache = getattr(self.bridge_class, name, None)
            if isinstance(cache, dict):
                for k, pg in entries.items():
                    if cache.get(k, pg) is pg:
                        cache.pop(k, None)
        self.bridge_caches = {}
        if self.initialized_here:
            dist.destroy_process_group()


def _import_torch():
    """torch and torch.distributed, or HgridTorchError saying that torch >= TORCH_MIN is
    needed (a bare ModuleNotFoundError would not say which torch, or that hgrid.torch is
    the part of hgrid that needs it)."""
    try:
        import torch
        import torch.distributed as dist
    except ImportError as e:
        if (e.name or "").split(".")[0] == "torch":
            raise HgridTorchError(
                "hgrid.torch needs torch >= %s, and torch is not installed (%s); install "
                "it (pip install 'torch>=%s'), or use hgrid.plan(), which needs no torch"
                % (TORCH_MIN, e, TORCH_MIN)) from e
        raise HgridTorchError("hgrid.torch needs torch >= %s, and importing torch failed: %s"
                              % (TORCH_MIN, e)) from e
    return torch, dist


def check_torch(dist: Any = None) -> None:
    """Raises HgridTorchError when new_group has no use_local_synchronization (torch < 2.1)."""
    if dist is None:
        dist = _import_torch()[1]
    try:
        params = inspect.signature(dist.new_group).parameters
    except (TypeError, ValueError):
        params = {}
    if "use_local_synchronization" not in params:
        import torch
        raise HgridTorchError(
            "hgrid.torch needs torch >= %s (torch.distributed.new_group(..., "
            "use_local_synchronization=True)); this is torch %s. hgrid creates only this "
            "rank's groups and does not fall back to creating every group on every rank"
            % (TORCH_MIN, getattr(torch, "__version__", "?")))


def _env_int(name: str, required: bool = True, default: Optional[int] = None) -> Optional[int]:
    v = os.environ.get(name)
    if v is None or v == "":
        if required:
            raise HgridTorchError(
                "%s is not set: start this program with hgrid-launch (its exec handoff sets "
                "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), or call "
                "torch.distributed.init_process_group before hgrid.torch.init" % name)
        return default
    try:
        return int(v)
    except ValueError:
        raise HgridTorchError("%s=%s is not an integer" % (name, v)) from None


def megatron_collection_class() -> Optional[Type[Any]]:
    """Megatron's ProcessGroupCollection class, or None when Megatron is not importable."""
    try:
        from megatron.core.process_groups_config import ProcessGroupCollection
    except ImportError:
        return None
    return ProcessGroupCollection


def collection_fields(cls: Type[Any]) -> List[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    names = []
    for klass in reversed(cls.__mro__):
        names += [n for n in getattr(klass, "__annotations__", {}) if n not in names]
    return names


def high_priority_kinds(plan: Plan, names: Optional[Iterable[str]]
                        ) -> Tuple[Set[str], List[str]]:
    """The plan kinds that high_priority_stream_groups names, and the names as a list;
    or HgridTorchError naming the names that are no plan kind or field, and the valid
    ones."""
    if names is None:
        return set(), []
    if isinstance(names, str):
        raise HgridTorchError("high_priority_stream_groups must be a list of group names, "
                              "not the string %r" % names)
    names = list(names)
    kinds, unknown = _groups.priority_kinds(names, plan.kinds)
    if unknown:
        raise HgridTorchError(
            "high_priority_stream_groups: %s %s no group of the plan %s; the valid names "
            "(plan kinds and ProcessGroupCollection fields): %s"
            % (", ".join(map(repr, unknown)), "is" if len(unknown) == 1 else "are",
               plan.path or "", ", ".join(_groups.field_table(plan.kinds))))
    return kinds, names


def _check_group_counts(torch, dist):
    """torch names a group made with local synchronization by how many groups the calling
    rank already has (hgrid/_groups.py), so groups the program made before init() must
    number the same on every rank, or init() would hang. Checked with one all-reduce on
    the default group, only when there are such groups."""
    world = getattr(getattr(dist, "distributed_c10d", None), "_world", None)
    names = getattr(world, "pg_names", None)
    if names is None or len(names) <= 1:
        return
    n = len(names)
    device = torch.device("cuda", torch.cuda.current_device()) \
        if dist.get_backend() == "nccl" else torch.device("cpu")
    x = torch.tensor([n, -n], dtype=torch.int64, device=device)
    dist.all_reduce(x, op=dist.ReduceOp.MAX)
    hi, lo = int(x[0].item()), -int(x[1].item())
    if hi != lo:
        raise HgridTorchError(
            "the ranks made different numbers of process groups before hgrid.torch.init "
            "(%d to %d; this rank %d): torch names groups made with local synchronization "
            "by that number, so hgrid's groups would not match across ranks. Call "
            "hgrid.torch.init before creating other groups" % (lo - 1, hi - 1, n - 1))


# torch.distributed's collectives and point-to-point calls: the time a rank spends in
# them is waiting (for the slowest peer), not compute (--stragglers, _heartbeat.py).
COLLECTIVES = (
    "all_reduce", "all_reduce_coalesced", "all_gather", "all_gather_into_tensor",
    "_all_gather_base", "all_gather_coalesced", "all_gather_object", "reduce_scatter",
    "reduce_scatter_tensor", "_reduce_scatter_base", "broadcast", "broadcast_object_list",
    "reduce", "gather", "gather_object", "scatter", "scatter_object_list", "all_to_all",
    "all_to_all_single", "barrier", "monitored_barrier", "send", "recv", "isend", "irecv",
    "batch_isend_irecv",
)


def time_collectives(dist: Any = None) -> List[str]:
    """Times torch.distributed's collectives (COLLECTIVES, those this torch has), so that
    hgrid.heartbeat() says the rank's compute time, its time outside them, for
    hgrid-launch's straggler detector (--stragglers). Replaces the functions in
    torch.distributed and torch.distributed.distributed_c10d (calls through the module,
    `dist.all_reduce(...)`, are timed; a name imported before, `from torch.distributed
    import all_reduce`, is not). Idempotent; returns the names timed. init() calls it.

    What is measured is host time inside the call. A blocking call (gloo, MPI, a
    barrier) waits there for its peers: measured. An async call (async_op=True, isend,
    irecv, batch_isend_irecv) returns at once and its work.wait() is not timed, so the
    wait counts as compute; and NCCL's calls return once the collective is queued on
    the GPU, so a rank waits for a slow peer at its next synchronisation (.item(),
    the optimizer), which counts as compute too: under NCCL a straggler whose GPU is
    slow is not told apart (docs/HANGS.md)."""
    if dist is None:
        dist = _import_torch()[1]
    c10d = getattr(dist, "distributed_c10d", None)
    done = []
    for name in COLLECTIVES:
        fn = getattr(dist, name, None)
        if fn is None or not callable(fn):
            continue
        if not getattr(fn, "_hgrid_timed", False):
            timed = _heartbeat._timed(fn)
            setattr(dist, name, timed)
            if c10d is not None and getattr(c10d, name, None) is fn:
                setattr(c10d, name, timed)
        done.append(name)
    _heartbeat._start_timing()
    return done


def init(plan: Union[Plan, str, "os.PathLike[str]", None] = None, backend: Optional[str] = None,
         timeout: Optional[timedelta] = None, megatron: Optional[bool] = None,
         share_world: bool = True,
         high_priority_stream_groups: Optional[Iterable[str]] = None,
         stragglers: bool = True) -> Groups:
    """init_process_group from the torchrun-style env (RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT, LOCAL_RANK) unless already initialized: `backend`, else
    $HGRID_TORCH_BACKEND, else nccl when CUDA is available and gloo otherwise; nccl is
    bound to GPU HGRID_CUDA_DEVICE (else LOCAL_RANK) with device_id. Then this rank's
    groups from the plan (`plan`: an hgrid.Plan, a path, or None for HGRID_PLAN).
    megatron: None = a real ProcessGroupCollection when importable, True = required,
    False = never; its fields are those the plan's kinds fill (`unset_fields`: the rest).
    share_world: a group whose members are the whole world is the default group.
    high_priority_stream_groups: plan kinds or ProcessGroupCollection fields ("ep",
    "dp_cp", "intra_dist_opt", ...) whose groups are created with
    ProcessGroupNCCL.Options(is_high_priority_stream=True), as Megatron's; the same list
    on every rank. Ignored on gloo (said in Groups.notes and, on rank 0, a warning).
    stragglers: time the collectives (time_collectives) when under hgrid-launch.
    Without torch: HgridTorchError, saying which torch is needed."""
    torch, dist = _import_torch()

    check_torch(dist)
    if stragglers and os.environ.get(_heartbeat.ENV_FD):
        time_collectives(dist)
    p = plan if isinstance(plan, Plan) else _read_plan(plan)
    kw = {} if timeout is None else {"timeout": timeout}
    hp_kinds, hp_names = high_priority_kinds(p, high_priority_stream_groups)

    initialized_here = False
    if not dist.is_initialized():
        rank, world = _env_int("RANK"), _env_int("WORLD_SIZE")
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if not os.environ.get(name):
                _env_int(name)  # raises, naming it
        if (rank, world) != (p.rank, p.world_size):
            raise HgridTorchError("RANK=%d WORLD_SIZE=%d but the plan %s is rank %d of %d"
                                  % (rank, world, p.path or "", p.rank, p.world_size))
        if backend is None:
            backend = os.environ.get("HGRID_TORCH_BACKEND") or None
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        init_kw = dict(kw)
        if backend == "nccl":
            dev = _env_int("HGRID_CUDA_DEVICE", required=False)
            if dev is None:
                dev = _env_int("LOCAL_RANK", required=False, default=0)
            device = torch.device("cuda", dev)
            torch.cuda.set_device(device)
            init_kw["device_id"] = device
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world,
                                **init_kw)
        initialized_here = True
    elif (dist.get_rank(), dist.get_world_size()) != (p.rank, p.world_size):
        raise HgridTorchError("the default group is rank %d of %d but the plan %s is rank "
                              "%d of %d" % (dist.get_rank(), dist.get_world_size(),
                                            p.path or "", p.rank, p.world_size))

    if not initialized_here:
        _check_group_counts(torch, dist)
    notes = []
    nccl_options = getattr(dist, "ProcessGroupNCCL", None)
    on_nccl = "nccl" in str(dist.get_backend())
    if hp_kinds and (not on_nccl or nccl_options is None):
        notes.append("high_priority_stream_groups (%s) ignored: %s" % (
            ", ".join(hp_names), "this torch has no torch.distributed.ProcessGroupNCCL"
            if on_nccl else "the backend is %s, and high-priority streams are NCCL's"
            % dist.get_backend()))
        if p.rank == 0:
            warnings.warn("hgrid.torch: " + notes[-1], RuntimeWarning, stacklevel=2)
        hp_kinds = set()
    spec = _groups.group_spec(p, share_world=share_world, high_priority=hp_kinds)
    bspec = _groups.bridge_spec(p)
    created = {}
    try:
        for members in spec.create:
            opts = {}
            if members in spec.high_priority:
                # One Options per group: new_group records the group's ranks and name in it.
                opts["pg_options"] = nccl_options.Options(is_high_priority_stream=True)
            created[members] = dist.new_group(ranks=list(members),
                                              use_local_synchronization=True, **kw, **opts)
        # The bridges' own groups after every module group, by every rank, without local
        # synchronization (_groups.bridge_spec says why); their boundary groups are tp_cp
        # groups, created above. A bridge group joins two modules of disjoint ranks, so
        # it is no module group; were it one, the member keeps the first.
        for members in bspec.every:
            if spec.is_world(members):
                continue
            pg = dist.new_group(ranks=list(members), **kw)
            if p.rank not in members:
                continue
            if members in created:
                dist.destroy_process_group(pg)
            else:
                created[members] = pg
    except BaseException:
        for pg in created.values():
            try:
                dist.destroy_process_group(pg)
            except Exception:
                pass
        if initialized_here:
            dist.destroy_process_group()
        raise

    def live(members):
        if members is None:
            return None
        return dist.group.WORLD if spec.is_world(members) else created[members]

    # What Megatron's BridgeCommunicator would find in its caches: live groups by its keys.
    non_member = getattr(getattr(dist, "GroupMember", None), "NON_GROUP_MEMBER", None)
    bridge_caches = {
        _groups.BRIDGE_CACHE: {k: non_member if m is None else live(m)
                               for k, m in bspec.caches[_groups.BRIDGE_CACHE].items()},
        _groups.BROADCAST_CACHE: {k: live(m)
                                  for k, m in bspec.caches[_groups.BROADCAST_CACHE].items()},
    }

    cls = None if megatron is False else megatron_collection_class()
    if megatron and cls is None:
        raise HgridTorchError("megatron=True but megatron.core.process_groups_config."
                              "ProcessGroupCollection is not importable")
    modules = {}
    for mp in p.modules:
        name = mp.module.name
        if cls is None:
            values, _ = spec.fields(name)
            modules[name] = ProcessGroups(name, spec.field_names,
                                          **{f: live(m) for f, m in values.items()})
        else:
            values, unset = spec.fields(name, collection_fields(cls))
            pgc = cls(**{f: live(m) for f, m in values.items()})
            pgc.unset_fields = unset
            modules[name] = pgc
    groups = Groups(p, modules, created, initialized_here, spec, notes)
    groups.bridge_caches = bridge_caches
    bridge_cls = None if megatron is False else megatron_bridge_class()
    if bridge_cls is not None:
        install_bridge_groups(bridge_cls, bridge_caches)
        groups.bridge_class = bridge_cls
    return groups


def megatron_bridge_class() -> Optional[Type[Any]]:
    """Megatron's BridgeCommunicator class, or None when it is not importable (a Megatron
    before bridges, or none)."""
    try:
        from megatron.core.pipeline_parallel.bridge_communicator import BridgeCommunicator
    except ImportError:
        return None
    return BridgeCommunicator


def install_bridge_groups(cls: Type[Any], caches: Dict[str, Dict[str, Any]]) -> None:
    """Puts the bridges' groups where Megatron's BridgeCommunicator looks before it
    creates one (its class-level caches, _groups.BRIDGE_CACHE and BROADCAST_CACHE), so
    that constructing a bridge creates no group: without this every rank would call
    new_group and new_subgroups_by_enumeration, collectives of the whole world, for every
    bridge. A Megatron whose class has no such caches (before #5234) is left alone."""
    for name, entries in caches.items():
        cache = getattr(cls, name, None)
        if isinstance(cache, dict):
            cache.update(entries)
