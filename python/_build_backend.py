"""A PEP 517 build backend for the hgrid package, standard library only: builds a pure
Python wheel of hgrid/ (and an sdist), so pip needs nothing from an index. The name is
read from pyproject.toml's [project] table, the version from hgrid/__init__.py (one
home in the package; tests keep it equal to include/hgrid/base.h's)."""
import base64
import hashlib
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    proj = text.split("[project]", 1)[1].split("\n[", 1)[0]
    get = lambda k: re.search(r'^%s\s*=\s*"([^"]*)"' % k, proj, re.M).group(1)  # noqa: E731
    with open(os.path.join(HERE, "hgrid", "__init__.py"), encoding="utf-8") as f:
        init = f.read()
    version = re.search(r'^__version__\s*=\s*"([^"]*)"', init, re.M).group(1)
    return get("name"), version, get("description"), get("requires-python")


def _metadata():
    name, version, summary, requires = _project()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\nRequires-Python: %s\n"
            % (name, version, summary, requires))


def _files():
    for d, _, names in sorted(os.walk(os.path.join(HERE, "hgrid"))):
        for n in sorted(names):
            if n.endswith(".py") or n == "py.typed":
                full = os.path.join(d, n)
                yield full, os.path.relpath(full, HERE).replace(os.sep, "/")


def _dist_info(name, version):
    return "%s-%s.dist-info" % (name, version)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version = _project()[:2]
    d = os.path.join(metadata_directory, _dist_info(name, version))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    return os.path.basename(d)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _project()[:2]
    wheel = "%s-%s-py3-none-any.whl" % (name, version)
    info = _dist_info(name, version)
    record = []

    def add(zf, arc, data):
        zf.writestr(zipfile.ZipInfo(arc, (1980, 1, 1, 0, 0, 0)), data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append("%s,sha256=%s,%d" % (arc, digest.decode(), len(data)))

    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as zf:
        for full, arc in _files():
            with open(full, "rb") as f:
                add(zf, arc, f.read())
        add(zf, info + "/METADATA", _metadata().encode())
        add(zf, info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: hgrid _build_backend\n"
                                 b"Root-Is-Purelib: true\nTag: py3-none-any\n")
        record.append(info + "/RECORD,,")
        zf.writestr(zipfile.ZipInfo(info + "/RECORD", (1980, 1, 1, 0, 0, 0)),
                    "\n".join(record) + "\n")
    return wheel


def build_sdist(sdist_directory, config_settings=None):
    name, version = _project()[:2]
    base = "%s-%s" % (name, version)
    out = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(out, "w:gz") as tf:
        for rel in ("pyproject.toml", "_build_backend.py"):
            tf.add(os.path.join(HERE, rel), base + "/" + rel)
        for full, arc in _files():
            tf.add(full, base + "/" + arc)
        pkg = os.path.join(sdist_directory, "PKG-INFO")
        with open(pkg, "w", encoding="utf-8") as f:
            f.write(_metadata())
        tf.add(pkg, base + "/PKG-INFO")
        os.remove(pkg)
    return os.path.basename(out)
