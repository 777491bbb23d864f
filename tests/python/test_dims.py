"""The dims the Python reader knows are the launcher's (common/grid/dims.h): every module
key of the C plans is a field of hgrid.Module and back, read to the same value, and
every coordinate a plan writes is one its kinds span or a dim of its view. So a dim
added on the C side and not to Module (or the other way) fails here, on every golden
layout."""
import json
import os
import tempfile
import unittest
from dataclasses import fields

import _util

import hgrid
from hgrid import _plan


class DimsAgreeWithTheLauncher(unittest.TestCase):
    def setUp(self):
        _util.need_launch(self)

    def layouts(self):
        out = [path for _, path, _ in _util.goldens()]
        gtp = os.path.join(_util.ROOT, "tests", "golden-gtp")
        out += sorted(os.path.join(gtp, f) for f in os.listdir(gtp) if f.endswith(".yaml"))
        return out

    def test_module_keys_are_module_fields(self):
        ints = [f.name for f in fields(hgrid.Module) if f.type in (int, "int")]
        self.assertEqual(list(_plan.MODULE_INT_KEYS + _plan.MODULE_OPTIONAL_KEYS), ints)
        for path in self.layouts():
            with self.subTest(layout=os.path.basename(path)):
                layout = json.loads(_util.dry_run("--format", "json", path))
                for m in layout["modules"]:
                    rank = json.loads(_util.dry_run("--format", "json", "--rank",
                                                    str(m["offset"]), path))
                    # offset and size, then the dims (HG_DIMS order), as the plan has them
                    self.assertEqual([k for k in rank["module"] if k not in ("name", "role")],
                                     ints)

    def test_rank_plan_reads_every_dim(self):
        for path in self.layouts():
            with self.subTest(layout=os.path.basename(path)):
                raw = json.loads(_util.dry_run("--format", "json", "--rank", "1", path))
                with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                    json.dump(raw, f)
                    f.flush()
                    p = hgrid.plan(f.name)
                for key, value in raw["module"].items():
                    self.assertEqual(getattr(p.module, key), value, key)
                self.assertEqual(p.coords, raw["coords"])
                # Every dim a kind spans is a coordinate, and every coordinate is a dim
                # of some kind (pp of both views).
                spanned = {d for k in p.kinds.values() for d in k.dims}
                self.assertEqual(spanned, set(p.coords))


if __name__ == "__main__":
    unittest.main()
