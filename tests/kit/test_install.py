"""The plugin author kit, as a third party uses it.

One temporary prefix per run: `cmake --install BUILD --prefix PREFIX`, then
  - the prefix holds bin/dlhost, the built-in plugins, the header, the CMake
    package and the pkg-config file, and nothing else (no test or bench
    binaries, no static libraries);
  - the installed dlhost finds the installed plugins with no setting;
  - find_package(dlhost) honours SameMajorVersion;
  - examples/c-plugin configures and builds against PREFIX only (its own
    CMake project, CMAKE_PREFIX_PATH), and also with the README's pkg-config
    one-liner;
  - the installed dlhost runs real jobs with the built example against a
    local nginx: files verify, a 404 and a wrong sha256 give exit 1 and leave
    nothing at the destination, DOWNLOAD_USER_AGENT reaches the origin.
"""
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import dlfix

BUILD = Path(os.environ["DLHOST_BUILD_DIR"])
SOURCE = Path(os.environ["DLHOST_SOURCE_DIR"])
CMAKE = os.environ.get("DLHOST_CMAKE", "cmake")
LIBDIR = os.environ.get("DLHOST_INSTALL_LIBDIR", "lib")
GENERATOR = os.environ.get("DLHOST_CMAKE_GENERATOR", "Ninja")
EXAMPLE = SOURCE / "examples" / "c-plugin"


def sh(args, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError("%s -> %d\n%s\n%s" % (" ".join(map(str, args)), p.returncode,
                                                   p.stdout[-4000:], p.stderr[-4000:]))
    return p


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


class InstalledKit(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="dlhost-kit-"))
        cls.prefix = cls.tmp / "prefix"
        sh([CMAKE, "--install", BUILD, "--prefix", cls.prefix])
        cls.dlhost = cls.prefix / "bin" / "dlhost"
        cls.example_build = cls.tmp / "example-build"
        sh([CMAKE, "-S", EXAMPLE, "-B", cls.example_build, "-G", GENERATOR,
            "-DCMAKE_PREFIX_PATH=%s" % cls.prefix])
        sh([CMAKE, "--build", cls.example_build])
        cls.plugin = cls.example_build / "dlhost-c-example.so"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_installed(self, args, cwd, env=None):
        p = subprocess.run([str(self.dlhost), *map(str, args)], cwd=cwd, env=dlfix.clean_env(env),
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        return p

    # -- what is installed ---------------------------------------------------

    def test_prefix_holds_the_kit_and_nothing_else(self):
        expected = sorted([
            "bin/dlhost",
            "include/dlhost/plugin.h",
            "include/dlhost/status_text.h",
            f"{LIBDIR}/cmake/dlhost/dlhostConfig.cmake",
            f"{LIBDIR}/cmake/dlhost/dlhostConfigVersion.cmake",
            f"{LIBDIR}/cmake/dlhost/dlhostTargets.cmake",
            f"{LIBDIR}/dlhost/plugins/dlhost-legacy.so",
            f"{LIBDIR}/dlhost/plugins/dlhost-multi-proxy.so",
            f"{LIBDIR}/pkgconfig/dlhost-plugin.pc",
            "share/dlhost/plugin.map",
        ])
        self.assertEqual(files_under(self.prefix), expected)

    def test_installed_host_finds_installed_plugins_without_settings(self):
        p = self.run_installed(["plugins"], cwd=self.tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        plugin_dir = str(self.prefix / LIBDIR / "dlhost" / "plugins")
        for name in ("legacy", "multi-proxy"):
            line = [l for l in p.stdout.splitlines() if l.startswith(name + " ")]
            self.assertTrue(line, p.stdout)
            self.assertIn(plugin_dir, line[0].replace("/bin/../", "/"))
            self.assertNotIn("not installed", line[0])
            self.assertNotIn("unusable", line[0])

    def test_find_package_is_same_major_only(self):
        for request, ok in (("0.1", True), ("1.0", False)):
            proj = self.tmp / ("consumer-" + request)
            proj.mkdir(exist_ok=True)
            (proj / "CMakeLists.txt").write_text(
                "cmake_minimum_required(VERSION 3.20)\nproject(c LANGUAGES C)\n"
                "find_package(dlhost %s REQUIRED)\n"
                "get_target_property(inc dlhost::plugin-api INTERFACE_INCLUDE_DIRECTORIES)\n"
                "message(STATUS \"INC=${inc} MAP=${DLHOST_PLUGIN_VERSION_SCRIPT}\")\n" % request)
            p = subprocess.run([CMAKE, "-S", proj, "-B", proj / "b", "-G", GENERATOR,
                                "-DCMAKE_PREFIX_PATH=%s" % self.prefix],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode == 0, ok, p.stdout + p.stderr)
            if ok:
                self.assertIn("INC=%s" % (self.prefix / "include"), p.stdout)

    def test_example_was_built_against_the_installed_kit(self):
        cache = (self.example_build / "CMakeCache.txt").read_text()
        self.assertIn("dlhost_DIR:PATH=%s" % (self.prefix / LIBDIR / "cmake" / "dlhost"), cache)
        self.assertNotIn(str(SOURCE / "plugin-api"), (self.example_build / "build.ninja").read_text()
                         if (self.example_build / "build.ninja").exists() else "")
        self.assertTrue(self.plugin.is_file())

    def test_pkg_config_one_liner_builds_the_example(self):
        env = dict(os.environ, PKG_CONFIG_PATH=str(self.prefix / LIBDIR / "pkgconfig"))
        cflags = sh(["pkg-config", "--cflags", "dlhost-plugin"], env=env).stdout.split()
        self.assertTrue(any(f.startswith("-I") and Path(f[2:]).resolve() == self.prefix / "include"
                            for f in cflags), cflags)
        out = self.tmp / "pc" / "dlhost-c-example.so"
        out.parent.mkdir(exist_ok=True)
        # The one-liner from examples/c-plugin/README.md.
        cmd = ('cc -std=c99 -pedantic -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden '
               '$(pkg-config --cflags dlhost-plugin libcurl libcrypto) -o "%s" "%s"/src/*.c '
               '-Wl,--version-script="$(pkg-config --variable=plugin_version_script dlhost-plugin)" '
               '$(pkg-config --libs libcurl libcrypto) -pthread' % (out, EXAMPLE))
        sh(["sh", "-c", cmd], env=env)
        p = self.run_installed(["plugins"], cwd=self.tmp)  # sanity: host still fine
        self.assertEqual(p.returncode, 0)
        lines = sh(["nm", "-D", "--defined-only", out]).stdout.splitlines()
        self.assertEqual([l.split()[-1] for l in lines if l.strip()], ["dlhost_plugin_entry"])

    # -- jobs with the installed host and the example ------------------------

    def test_jobs_with_the_example_plugin(self):
        data = self.tmp / "data"
        data.mkdir(exist_ok=True)
        with dlfix.Nginx(data, workdir=self.tmp / "nginx") as nginx:
            entries = dlfix.make_files(data, 24, 70000, prefix="f", per_group=6,
                                       base_url=nginx.base_url, subdir="job")
            work = self.tmp / "work"
            work.mkdir(exist_ok=True)
            manifest = dlfix.write_manifest(work / "ok.jsonl", entries)
            p = self.run_installed(["run", "--plugin", self.plugin, "--out", "out",
                                    "--progress", "none", manifest], cwd=work,
                                   env={"DOWNLOAD_USER_AGENT": "kit-test/1"})
            self.assertEqual(p.returncode, 0, p.stderr)
            for e in entries:
                f = work / "out" / e["path"]
                self.assertEqual(dlfix.sha256_file(f), e["sha256"], f)
            self.assertEqual([f for f in (work / "out").rglob("*.part")], [])
            agents = {r["user_agent"] for r in nginx.records()}
            self.assertEqual(agents, {"kit-test/1"})

            missing = nginx.url("job/missing.bin")
            bad_sha = dict(entries[0], path="bad.bin", sha256="0" * 64)
            m2 = dlfix.write_manifest(work / "bad.jsonl",
                                      [{"url": missing, "path": "missing.bin"}, bad_sha])
            p = self.run_installed(["run", "--plugin", self.plugin, "--out", "out2",
                                    "--progress", "none", m2], cwd=work)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("HTTP 404", p.stderr)
            self.assertIn(missing, p.stderr)
            self.assertIn("sha256 mismatch", p.stderr)
            self.assertFalse((work / "out2" / "missing.bin").exists())
            self.assertFalse((work / "out2" / "bad.bin").exists())


if __name__ == "__main__":
    unittest.main()
