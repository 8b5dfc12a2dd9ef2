"""pip's build backend for pythreading (PEP 517), kept in the source tree.

`pip install .` imports this module (pyproject.toml: backend-path = ["scripts"],
requires = []), so installing needs nothing from PyPI: only the standard
library, CMake, a C++20 compiler and what python/CMakeLists.txt needs for the
module. build_wheel configures the project with CMake for the interpreter pip
runs under (sys.executable), builds only the library and the module (no tests,
examples or benchmarks) and packs the module into a wheel for that interpreter.

config_settings (pip install . --config-settings KEY=VALUE; pip 23.1+: -C):
  build-dir=DIR   keep CMake's build directory there (default: a temporary one,
                  removed afterwards); reusing it makes the next build quick
  cmake-args=...  extra CMake arguments, split on spaces
Environment: CMAKE_BUILD_PARALLEL_LEVEL (default: the number of CPUs);
ccache is used when installed.
"""

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- metadata ---------------------------------------------------------------
def _project_table():
    """The [project] table's `key = "string"` entries (all this project uses;
    tomllib is not in 3.9/3.10, and pip's isolated build has no tomli)."""
    table, inside = {}, False
    with open(os.path.join(SOURCE, "pyproject.toml"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                inside = line == "[project]"
            elif inside:
                m = re.match(r'^([A-Za-z0-9_-]+)\s*=\s*"([^"]*)"\s*(#.*)?$', line)
                if m:
                    table[m.group(1)] = m.group(2)
    return table


def _version():
    # The one version number is CMake's project(VERSION) (pyproject: dynamic).
    with open(os.path.join(SOURCE, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(\s*pythreading\s+VERSION\s+([0-9.]+)", f.read())
    if not m:
        raise RuntimeError("no project(pythreading VERSION x.y.z) in CMakeLists.txt")
    return m.group(1)


def _metadata():
    project = _project_table()
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + project["name"],
        "Version: " + _version(),
        "Summary: " + project.get("description", ""),
    ]
    if "requires-python" in project:
        lines.append("Requires-Python: " + project["requires-python"])
    body = ""
    readme = project.get("readme")
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(SOURCE, readme), encoding="utf-8") as f:
            body = f.read()
    return project["name"], "\n".join(lines) + "\n\n" + body


def _tag():
    """The wheel tag of the running interpreter: cpXY-cpXY[flags]-platform."""
    if sys.implementation.name != "cpython":
        raise RuntimeError("pythreading's module is for CPython")
    py = "cp%d%d" % sys.version_info[:2]
    abi = py + getattr(sys, "abiflags", "")
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "%s-%s-%s" % (py, abi, plat)


# --- building -----------------------------------------------------------------
def _run(cmd, cwd=None):
    # pip shows a backend's output only with -v, or when it fails.
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    sys.stderr.write(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit status %d)" % (cmd[0], proc.returncode))
    return proc.stdout


def _build_module(build_dir, stage, extra_args):
    cmake = shutil.which("cmake")
    if not cmake:
        raise RuntimeError("CMake is needed to build pythreading (Debian: scripts/setup.sh python)")
    args = [
        cmake, "-S", SOURCE, "-B", build_dir,
        "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG",
        "-DBUILD_SHARED_LIBS=OFF",
        "-DPYTHREADING_BUILD_TESTS=OFF", "-DPYTHREADING_BUILD_EXAMPLES=OFF",
        "-DPYTHREADING_BUILD_BENCHMARKS=OFF", "-DPYTHREADING_BUILD_PYTHON=ON",
        "-DPython3_EXECUTABLE=" + sys.executable,
        "-DPYTHREADING_PYTHON_INSTALL_DIR=" + stage,
    ]
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")) and shutil.which("ninja"):
        args.append("-GNinja")
    if shutil.which("ccache"):
        args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    configure_log = _run(args + extra_args)
    skipped = re.search(r"pythreading Python module: skipped \(([^)]*)\)", configure_log)
    if skipped:
        raise RuntimeError("CMake cannot build the Python module for %s: %s"
                           % (sys.executable, skipped.group(1)))
    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
    _run([cmake, "--build", build_dir, "--target", "pythreading_python", "-j", jobs])
    _run([cmake, "--install", build_dir, "--component", "python"])
    built = [n for n in os.listdir(stage) if n.startswith("pythreading.") and
             n.endswith(sysconfig.get_config_var("EXT_SUFFIX"))]
    if len(built) != 1:
        raise RuntimeError("expected one module %s in %s, found %s"
                           % (sysconfig.get_config_var("EXT_SUFFIX"), stage, os.listdir(stage)))
    return os.path.join(stage, built[0])


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _write_wheel(wheel_directory, module):
    name, metadata = _metadata()
    version = _version()
    tag = _tag()
    dist_info = "%s-%s.dist-info" % (name, version)
    wheel_name = "%s-%s-%s.whl" % (name, version, tag)
    wheel_text = ("Wheel-Version: 1.0\nGenerator: pythreading scripts/pep517_backend.py\n"
                  "Root-Is-Purelib: false\nTag: %s\n" % tag)
    with open(module, "rb") as f:
        files = [(os.path.basename(module), f.read())]
    files += [(dist_info + "/METADATA", metadata.encode()),
              (dist_info + "/WHEEL", wheel_text.encode())]
    record_name = dist_info + "/RECORD"
    record = "".join(_record_line(n, d) + "\n" for n, d in files) + record_name + ",,\n"
    files.append((record_name, record.encode()))
    path = os.path.join(wheel_directory, wheel_name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as whl:
        for arcname, data in files:
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if arcname.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
    return wheel_name


# --- PEP 517 hooks ------------------------------------------------------------
def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    settings = config_settings or {}
    extra = (settings.get("cmake-args") or "").split()
    build_dir = settings.get("build-dir")
    temporary = tempfile.mkdtemp(prefix="pythreading-wheel-")
    try:
        stage = os.path.join(temporary, "stage")
        os.mkdir(stage)
        if build_dir:
            build_dir = os.path.abspath(build_dir)
        else:
            build_dir = os.path.join(temporary, "build")
        module = _build_module(build_dir, stage, extra)
        return _write_wheel(wheel_directory, module)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _sdist_files():
    """The files git tracks, or (an unpacked sdist) every file but build output."""
    try:
        out = subprocess.run(["git", "-C", SOURCE, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=True).stdout
        return [p for p in out.decode().split("\0") if p and os.path.isfile(os.path.join(SOURCE, p))]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for top, dirs, names in os.walk(SOURCE):
            rel = os.path.relpath(top, SOURCE)
            dirs[:] = [d for d in dirs if not (rel == "." and (d.startswith("build") or d.startswith(".")))
                       and d != "__pycache__"]
            files += [os.path.normpath(os.path.join(rel, n)) for n in names if n != "PKG-INFO"]
        return files


def build_sdist(sdist_directory, config_settings=None):
    name, metadata = _metadata()
    base = "%s-%s" % (name, _version())
    path = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(_sdist_files()):
            tar.add(os.path.join(SOURCE, rel), arcname=base + "/" + rel, recursive=False)
        info = tarfile.TarInfo(base + "/PKG-INFO")
        data = metadata.encode()
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return base + ".tar.gz"
