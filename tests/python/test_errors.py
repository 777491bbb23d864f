"""PlanError's exact messages: HGRID_PLAN unset, a missing file, a directory, not JSON,
not an hgrid plan, the whole layout's plan, a wrong version, a bad field, a plan
without its kinds or with a group of no kind it lists, and a kind's "fields" missing
where others have them, not a list of strings, or a field two kinds fill."""
import json
import os
import unittest

import _util

import hgrid


class PlanErrors(_util.TempDirCase):
    def setUp(self):
        super().setUp()
        self.saved = os.environ.pop("HGRID_PLAN", None)

    def tearDown(self):
        os.environ.pop("HGRID_PLAN", None)
        if self.saved is not None:
            os.environ["HGRID_PLAN"] = self.saved
        super().tearDown()

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def error(self, env=None, *args):
        if env is not None:
            os.environ["HGRID_PLAN"] = env
        with self.assertRaises(hgrid.PlanError) as cm:
            hgrid.plan(*args)
        self.assertIsInstance(cm.exception, hgrid.HgridError)
        return str(cm.exception)

    def rank5(self):
        _util.need_launch(self)
        return json.loads(_util.dry_run("--format", "json", "--rank", "5",
                                        "configs/two-encoders-14.yaml"))

    def test_unset(self):
        self.assertEqual(self.error(), "HGRID_PLAN is not set: start this program with "
                         "hgrid-launch (its exec handoff sets it), or pass hgrid.plan(path)")

    def test_env_missing_file(self):
        p = os.path.join(self.tmp, "none.json")
        self.assertEqual(self.error(p), "HGRID_PLAN=%s: cannot read the plan: No such file "
                         "or directory" % p)

    def test_missing_path(self):
        p = os.path.join(self.tmp, "none.json")
        self.assertEqual(self.error(None, p),
                         "%s: cannot read the plan: No such file or directory" % p)

    def test_directory(self):
        self.assertEqual(self.error(self.tmp),
                         "HGRID_PLAN=%s: cannot read the plan: Is a directory" % self.tmp)

    def test_not_json(self):
        p = self.write("trunc.json", '{"hgrid_rank_plan": 1\n')
        self.assertEqual(self.error(p), "HGRID_PLAN=%s: not JSON: Expecting ',' delimiter: "
                         "line 2 column 1 (char 22)" % p)

    def test_not_a_plan(self):
        p = self.write("other.json", '{"world": 1}\n')
        self.assertEqual(self.error(None, p),
                         '%s: not an hgrid rank plan (no "hgrid_rank_plan" key)' % p)

    def test_whole_layout(self):
        _util.need_launch(self)
        p = self.write("full.json", _util.dry_run("--format", "json",
                                                  "configs/two-encoders-14.yaml").decode())
        self.assertEqual(self.error(p), 'HGRID_PLAN=%s: this is the whole layout\'s plan '
                         '("hgrid_plan"), not one rank\'s: use hgrid-launch --dry-run '
                         '--format json --rank N' % p)

    def test_version(self):
        p = self.write("v2.json", '{"hgrid_rank_plan": 2}\n')
        self.assertEqual(self.error(None, p), "%s: hgrid_rank_plan version 2 is not supported "
                         "(this hgrid reads version 1)" % p)

    def test_bad_field(self):
        d = self.rank5()
        d["module"]["tp"] = "2"
        p = self.write("badfield.json", json.dumps(d))
        self.assertEqual(self.error(None, p), '%s: not a valid hgrid rank plan: module.tp '
                         'must be an integer >= 1 (got "2")' % p)

    def test_no_kinds(self):
        d = self.rank5()
        del d["kinds"]
        p = self.write("nokinds.json", json.dumps(d))
        self.assertEqual(self.error(None, p),
                         "%s: not a valid hgrid rank plan: kinds must be an object" % p)

    def test_group_of_no_kind(self):
        d = self.rank5()
        del d["kinds"]["mp"]
        p = self.write("nomp.json", json.dumps(d))
        self.assertEqual(self.error(None, p), "%s: not a valid hgrid rank plan: groups.mp is "
                         "not one of the plan's kinds" % p)

    def test_fields_missing_on_one_kind(self):
        d = self.rank5()
        del d["kinds"]["tp_cp"]["fields"]
        p = self.write("nofields.json", json.dumps(d))
        self.assertEqual(self.error(None, p), "%s: not a valid hgrid rank plan: kinds.tp_cp."
                         "fields is missing (kinds.tp has fields)" % p)

    def test_fields_not_strings(self):
        d = self.rank5()
        d["kinds"]["mp"]["fields"] = "mp"
        p = self.write("fieldsstr.json", json.dumps(d))
        self.assertEqual(self.error(None, p), "%s: not a valid hgrid rank plan: kinds.mp."
                         "fields must be a list of strings" % p)

    def test_field_of_two_kinds(self):
        d = self.rank5()
        d["kinds"]["tp_ep_pp"]["fields"].append("intra_dist_opt")
        p = self.write("twice.json", json.dumps(d))
        self.assertEqual(self.error(None, p), "%s: not a valid hgrid rank plan: kinds.tp_ep_pp."
                         "fields: intra_dist_opt is kinds.tp_cp_dp_pp's already" % p)
        d = self.rank5()
        d["kinds"]["tp_cp_dp_pp"]["fields"].append("dp")
        p = self.write("kindname.json", json.dumps(d))
        self.assertEqual(self.error(None, p), "%s: not a valid hgrid rank plan: kinds."
                         "tp_cp_dp_pp.fields: dp is kinds.dp's already" % p)

    def test_older_plan_without_fields(self):
        # Plans written before "fields" (and the gtp_remat kinds and module keys) still read.
        d = self.rank5()
        for k in list(d["kinds"]):
            d["kinds"][k].pop("fields")
            if "gtp" in k:
                del d["kinds"][k], d["groups"][k]
        for key in ("gtp_remat", "expert_gtp_remat"):
            d["module"].pop(key)
        p = hgrid.load_plan(d)
        self.assertEqual(p.kinds["dp_cp"].fields, None)
        self.assertEqual((p.module.gtp_remat, p.module.expert_gtp_remat), (1, 1))


if __name__ == "__main__":
    unittest.main()
