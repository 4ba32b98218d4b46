"""Nothing outside the output directory, whatever links lie in it.

dlhost's own state in <out>/.dlhost/ follows the same rules: a link at the
state directory or at one of its files (verified, verified.journal, key,
verified.lock, skip-cache), or a FIFO, device or directory there, is refused
before anything runs, with one line naming it (exit 2), and never blocks;
a link at a temporary file (verified.tmp, skip-cache.tmp) is replaced.

Links are planted at a directory, at a .part, at a .part's sidecar and at a
destination, on a first run and on a resume (a .part left by an interrupted
run), for both plugins. Every test hashes everything outside --out before
and after: not one byte there may change, and nothing may appear. A linked
directory fails its file with a message naming the link (exit 1) unless
DOWNLOAD_FOLLOW_SYMLINKS=1; a link at a file or its .part is replaced,
never written through.
"""
import hashlib
import json
import os
import shutil
import unittest
from pathlib import Path

import dlfix
from dlfix import DlhostTestCase

DIRECT = {"isLocalhost": True}
SIZE = 40000


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


def snapshot(root: Path) -> dict:
    """{relative path: sha256 or link target} of everything under root."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                found[rel] = "-> " + os.readlink(p)
            elif p.is_file():
                found[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                found[rel] = "dir"
    return found


class Symlinks:
    """The tests; mixed into one TestCase per plugin below."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fs = dlfix.FaultServer(stall_seconds=30).start()
        cls.addClassCleanup(cls.fs.stop)

    def setUp(self):
        super().setUp()
        self.outside = self.work / "outside"
        (self.outside / "sub").mkdir(parents=True)
        # A victim of the size the manifest expects: a size-only check would skip it.
        (self.outside / "victim").write_bytes(b"v" * SIZE)
        (self.outside / "sub" / "keep.txt").write_text("precious\n")
        self.out.mkdir(parents=True)
        self.before = snapshot(self.outside)

    def tearDown(self):
        self.assertEqual(snapshot(self.outside), self.before, "something outside --out changed")
        super().tearDown()

    def env(self, **settings):
        e = {"PROXY_RETRY_BASE_DELAY": 50, "PROXY_MAX_RETRIES": 1,
             "PROXY_LIST": json.dumps([DIRECT])}
        e.update(settings)
        return e

    def entry(self, name, kind="ok"):
        return {"url": self.fs.url(f"{kind}/{SIZE}/{name}"), "path": name,
                **dlfix.expected(name, SIZE)}

    def run_entries(self, entries, **settings):
        return self.run_job(self.manifest(entries), env=self.env(**settings), timeout=120)

    def leave_part(self, name):
        """<name>.part (and its sidecar) as an interrupted run leaves it."""
        stall = {**self.entry(name), "url": self.fs.url(f"stall/{SIZE}/{name}?after=10000")}
        r = self.interrupt_once_requested(self.manifest([stall], name="stall.jsonl"), self.fs,
                                          name, env=self.env(DOWNLOAD_INTERRUPT_GRACE=0))
        self.assertRc(r, 130)
        part = self.out / (name + ".part")
        self.assertEqual(part.stat().st_size, 10000)
        self.assertTrue(Path(str(part) + ".meta").is_file())
        self.fs.clear(counters=False)
        return part

    def assertDownloaded(self, name):
        p = self.out / name
        self.assertFalse(p.is_symlink(), f"{p} is still a link")
        self.assertVerified([self.entry(name)])

    # -- a linked directory ------------------------------------------------------

    def test_a_linked_directory_fails_its_file_and_names_the_link(self):
        (self.out / "p1").symlink_to(self.outside)
        r = self.run_entries([self.entry("p1/victim"), self.entry("p1/new.bin"),
                              self.entry("fine.bin")])
        self.assertRc(r, 1)
        for name in ("p1/victim", "p1/new.bin"):
            line = next(x for x in r.stderr.splitlines() if x.startswith(f"failed: {name}"))
            self.assertIn(f"{self.out}/p1 is a symbolic link", line)
            self.assertIn("DOWNLOAD_FOLLOW_SYMLINKS=1", line)
        self.assertDownloaded("fine.bin")
        self.assertEqual(self.fs.requests_for("p1/victim"), [], "not even asked for")

    def test_a_deeper_linked_directory_is_refused_too(self):
        (self.out / "a" / "b").mkdir(parents=True)
        (self.out / "a" / "b" / "c").symlink_to(self.outside / "sub")
        r = self.run_entries([self.entry("a/b/c/keep.txt")])
        self.assertRc(r, 1)
        self.assertIn(f"{self.out}/a/b/c is a symbolic link", r.stderr)

    def test_follow_symlinks_allows_the_users_directory_links(self):
        elsewhere = self.work / "bigdisk"
        elsewhere.mkdir()
        (self.out / "p2").symlink_to(elsewhere)
        r = self.run_entries([self.entry("p2/a.bin")], DOWNLOAD_FOLLOW_SYMLINKS=1)
        self.assertRc(r, 0)
        self.assertTrue((elsewhere / "a.bin").is_file())
        self.assertVerified([self.entry("p2/a.bin")])

    def test_an_output_directory_that_is_itself_a_link_is_the_users_choice(self):
        real = self.work / "real-out"
        real.mkdir()
        link = self.work / "out-link"
        link.symlink_to(real)
        r = self.run_job(self.manifest([self.entry("x.bin")]), env=self.env(), out=link)
        self.assertRc(r, 0)
        self.assertVerified([self.entry("x.bin")], out=real)

    # -- our own state: .dlhost/ ---------------------------------------------------

    STATE_FILES = ("verified", "verified.journal", "verified.lock", "key", "skip-cache")

    def state_run(self):
        """A job that writes every state file: a verified download, and a
        stall that times out (so the skip cache is saved)."""
        stall = {**self.entry("stalls.bin"), "url": self.fs.url(f"stall/{SIZE}/stalls.bin")}
        return self.run_entries([self.entry("fine.bin"), stall], PROXY_MAX_RETRIES=0,
                                PROXY_DOWNLOAD_TIMEOUT=1500, PROXY_STALL_TIMEOUT=0)

    def assertRefused(self, r, shown, what):
        self.assertRc(r, 2)
        [line] = [x for x in r.stderr.splitlines() if shown in x]
        self.assertIn(f"{shown} is {what}", line)
        self.assertAbsent(self.out / "fine.bin")

    def test_a_link_at_the_state_directory_is_refused(self):
        (self.out / ".dlhost").symlink_to(self.outside / "sub")
        self.assertRefused(self.state_run(), f"{self.out}/.dlhost", "a symbolic link")

    def test_a_link_at_a_state_file_is_refused(self):
        for name in self.STATE_FILES:
            with self.subTest(name):
                state = self.out / ".dlhost"
                shutil.rmtree(state, ignore_errors=True)
                state.mkdir()
                (state / name).symlink_to(self.outside / "victim")
                self.assertRefused(self.state_run(), f"{state}/{name}", "a symbolic link")

    def test_a_fifo_a_device_or_a_directory_at_a_state_file_is_refused_without_blocking(self):
        kinds = [("a FIFO", os.mkfifo), ("a directory", os.mkdir)]
        if os.geteuid() == 0:  # the null device, as root can make one anywhere
            kinds.append(("a character device",
                          lambda p: os.mknod(p, 0o600 | 0o020000, os.makedev(1, 3))))
        for what, make in kinds:
            for name in self.STATE_FILES:
                with self.subTest(f"{what} at {name}"):
                    state = self.out / ".dlhost"
                    shutil.rmtree(state, ignore_errors=True)
                    state.mkdir()
                    make(str(state / name))
                    self.assertRefused(self.state_run(), f"{state}/{name}", what)

    def test_a_link_at_a_temporary_state_file_is_replaced(self):
        state = self.out / ".dlhost"
        state.mkdir()
        for name in ("verified.tmp", "skip-cache.tmp"):
            (state / name).symlink_to(self.outside / "victim")
        r = self.state_run()
        self.assertRc(r, 1)  # the stalled file
        self.assertDownloaded("fine.bin")
        for name in ("verified", "skip-cache"):
            self.assertTrue((state / name).is_file() and not (state / name).is_symlink(), name)
        self.assertIn("stalls.bin", (state / "skip-cache").read_text())
        for name in ("verified.tmp", "skip-cache.tmp"):
            self.assertFalse(os.path.lexists(state / name), name)

    # -- links at files, first run ----------------------------------------------------

    def test_a_link_at_the_part_is_replaced(self):
        (self.out / "b.bin.part").symlink_to(self.outside / "victim")
        r = self.run_entries([self.entry("b.bin")])
        self.assertRc(r, 0)
        self.assertDownloaded("b.bin")
        self.assertEqual(self.part_files(), [])

    def test_a_hard_link_at_the_part_is_replaced(self):
        os.link(self.outside / "victim", self.out / "h.bin.part")
        r = self.run_entries([self.entry("h.bin")])
        self.assertRc(r, 0)
        self.assertDownloaded("h.bin")

    def test_a_link_at_the_destination_is_replaced_not_skipped(self):
        (self.out / "c.bin").symlink_to(self.outside / "victim")  # of the expected size
        r = self.run_entries([self.entry("c.bin")])
        self.assertRc(r, 0)
        self.assertDownloaded("c.bin")
        self.assertEqual(len(self.fs.requests_for("c.bin")), 1)

    # -- links planted before a resume -------------------------------------------------

    def test_resume_with_a_link_at_the_part(self):
        part = self.leave_part("r1.bin")
        part.unlink()
        part.symlink_to(self.outside / "victim")
        r = self.run_entries([self.entry("r1.bin")])
        self.assertRc(r, 0)
        self.assertDownloaded("r1.bin")
        [req] = self.fs.requests_for("r1.bin")
        self.assertIsNone(req["range"], "the link is not this file's .part: from zero")

    def test_resume_with_a_link_at_the_sidecar(self):
        part = self.leave_part("r2.bin")
        meta = Path(str(part) + ".meta")
        meta.unlink()
        meta.symlink_to(self.outside / "victim")
        r = self.run_entries([self.entry("r2.bin")])
        self.assertRc(r, 0)
        self.assertDownloaded("r2.bin")
        self.assertFalse(meta.exists() or meta.is_symlink())

    def test_resume_with_a_link_at_the_destination(self):
        self.leave_part("r3.bin")
        (self.out / "r3.bin").symlink_to(self.outside / "victim")
        r = self.run_entries([self.entry("r3.bin")])
        self.assertRc(r, 0)
        self.assertDownloaded("r3.bin")
        [req] = self.fs.requests_for("r3.bin")
        self.assertEqual(req["range"], "bytes=10000-", "the .part itself was fine: resumed")

    def test_resume_after_the_directory_became_a_link(self):
        self.leave_part("q/r4.bin")
        shutil.move(str(self.out / "q"), str(self.outside / "q"))  # the .part now lies outside
        (self.out / "q").symlink_to(self.outside / "q")
        self.before = snapshot(self.outside)
        r = self.run_entries([self.entry("q/r4.bin")])
        self.assertRc(r, 1)
        self.assertIn(f"{self.out}/q is a symbolic link", r.stderr)
        self.assertEqual(self.fs.requests_for("q/r4.bin"), [])


class Legacy(Symlinks, DlhostTestCase):
    plugin = "legacy"


class MultiProxy(Symlinks, DlhostTestCase):
    plugin = "multi-proxy"


if __name__ == "__main__":
    unittest.main()
