"""Skipping is trustworthy: a file at its destination is skipped only when it
matches the manifest's size and sha256. The sha256 is checked once and
remembered in <out>/.dlhost/ (by device, inode, size, mtime and ctime, each
record sealed with the directory's key), so a rerun makes no request and
reads no file again (inotify sees no open); a file that does not match, or
was rewritten behind dlhost's back even with its mtime set back, is
downloaded again and replaced; a planted record is not trusted. Judged by
the origin's access log, inotify and the files' sha256.
"""
import ctypes
import ctypes.util
import os
import unittest

from dlfix import NginxOriginTestCase, make_files, sha256_file


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


def overwrite_keeping_stat(path, data):
    """New bytes of the same size, with the old mtime and inode: a change only
    a re-read could notice."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_ino == st.st_ino


class OpenWatch:
    """inotify IN_OPEN | IN_ACCESS on some files: were they opened or read?"""

    def __init__(self, paths):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        for p in paths:
            assert libc.inotify_add_watch(self.fd, str(p).encode(), 0x20 | 0x1) >= 0

    def seen(self) -> bool:
        try:
            return len(os.read(self.fd, 65536)) > 0
        except BlockingIOError:
            return False

    def close(self):
        os.close(self.fd)


class SkipTrust(NginxOriginTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.entries = make_files(cls.data, 12, 4096, prefix="t", per_group=4,
                                 base_url=cls.nginx.base_url)

    def uris_since(self, mark):
        return sorted(r["uri"] for r in self.nginx.records_since(mark))

    def check_both_plugins(self, body):
        for plugin in ("legacy", "multi-proxy"):
            with self.subTest(plugin=plugin):
                self.out = self.work / f"out-{plugin}"
                body(plugin)

    def test_wrong_bytes_of_the_right_size_are_downloaded_again(self):
        def body(plugin):
            manifest = self.manifest(self.entries)
            self.assertRc(self.run_job(manifest, plugin=plugin), 0)
            bad = self.entries[5]
            (self.out / bad["path"]).write_bytes(b"x" * bad["size"])  # right size, wrong bytes
            mark = self.nginx.mark()
            r = self.run_job(manifest, "-v", plugin=plugin)
            self.assertRc(r, 0)
            self.assertEqual(self.uris_since(mark), ["/" + bad["path"]])
            self.assertIn("11 skipped", r.stderr)
            self.assertVerified(self.entries)
            self.assertEqual(self.part_files(), [])
            # Without a sha256 in the manifest, the size is all there is to check.
            (self.out / bad["path"]).write_bytes(b"y" * bad["size"])
            no_sha = [{k: v for k, v in e.items() if k != "sha256"} for e in self.entries]
            mark = self.nginx.mark()
            self.assertRc(self.run_job(self.manifest(no_sha, name="nosha.jsonl"), plugin=plugin),
                          0)
            self.assertEqual(self.uris_since(mark), [])
        self.check_both_plugins(body)

    def test_a_rerun_reads_no_file_again_and_notices_changes(self):
        def body(plugin):
            manifest = self.manifest(self.entries)
            self.assertRc(self.run_job(manifest, plugin=plugin), 0)
            self.assertTrue((self.out / ".dlhost" / "verified").is_file())
            # The download run remembered what the plugin verified: the
            # rerun opens none of the files.
            watch = OpenWatch(self.out / e["path"] for e in self.entries)
            mark = self.nginx.mark()
            r = self.run_job(manifest, plugin=plugin)
            self.assertRc(r, 0)
            self.assertIn("12 skipped", r.stderr)
            self.assertEqual(self.uris_since(mark), [])
            self.assertFalse(watch.seen(), "a file was read again")
            watch.close()
            # Bytes changed behind dlhost's back (same size, mtime and inode)
            # are noticed: the ctime moved. Checked, and replaced.
            tampered = self.entries[0]
            path = self.out / tampered["path"]
            overwrite_keeping_stat(path, b"z" * tampered["size"])
            mark = self.nginx.mark()
            self.assertRc(self.run_job(manifest, plugin=plugin), 0)
            self.assertEqual(self.uris_since(mark), ["/" + tampered["path"]])
            self.assertEqual(sha256_file(path), tampered["sha256"])
        self.check_both_plugins(body)

    def test_files_put_there_by_another_tool_are_read_once(self):
        # The files are copied in (not downloaded by dlhost): the first run
        # hashes them, the second trusts what it remembered.
        self.out.mkdir()
        for e in self.entries:
            (self.out / e["path"]).parent.mkdir(parents=True, exist_ok=True)
            (self.out / e["path"]).write_bytes((self.data / e["path"]).read_bytes())
        manifest = self.manifest(self.entries)
        mark = self.nginx.mark()
        self.assertRc(self.run_job(manifest), 0)
        self.assertEqual(self.uris_since(mark), [])
        watch = OpenWatch(self.out / e["path"] for e in self.entries)
        self.assertRc(self.run_job(manifest), 0)
        self.assertEqual(self.uris_since(mark), [])
        self.assertFalse(watch.seen(), "a file was read again")
        watch.close()

    def test_a_planted_record_or_key_is_not_trusted(self):
        import struct
        manifest = self.manifest(self.entries)
        self.assertRc(self.run_job(manifest), 0)
        state = self.out / ".dlhost"
        victim = self.entries[7]
        path = self.out / victim["path"]
        path.write_bytes(b"w" * victim["size"])  # wrong bytes, right size
        st = os.stat(path)
        # A record for it with the manifest's sha256, as anyone who can write
        # the output directory could append one, sealed with a key of theirs.
        fields = struct.pack("<QQqqq32s", st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                             st.st_ctime_ns, bytes.fromhex(victim["sha256"]))
        import hashlib
        import hmac
        mine = b"k" * 32
        record = fields + hmac.new(mine, fields, hashlib.sha256).digest()[:16] + bytes(8)
        with open(state / "verified.journal", "ab") as j:
            if j.tell() == 0:
                j.write(b"dlhost verified-files 2\n".ljust(96, b"\0"))
            j.write(record)
        for key in (None, mine):  # with our key; then with the planter's key in its place
            if key is not None:
                (state / "key").unlink()
                (state / "key").write_bytes(key)
                os.chmod(state / "key", 0o644)
            mark = self.nginx.mark()
            self.assertRc(self.run_job(manifest), 0)
            self.assertEqual(self.uris_since(mark), ["/" + victim["path"]])
            self.assertEqual(sha256_file(path), victim["sha256"])
            path.write_bytes(b"w" * victim["size"])

    def test_a_link_at_the_destination_is_replaced_not_trusted(self):
        manifest = self.manifest(self.entries[:1])
        e = self.entries[0]
        target = self.work / "elsewhere.bin"
        target.write_bytes((self.data / e["path"]).read_bytes())  # even with the right bytes
        (self.out / e["path"]).parent.mkdir(parents=True)
        os.symlink(target, self.out / e["path"])
        mark = self.nginx.mark()
        self.assertRc(self.run_job(manifest, plugin="multi-proxy"), 0)
        self.assertEqual(self.uris_since(mark), ["/" + e["path"]])
        self.assertFalse((self.out / e["path"]).is_symlink())
        self.assertVerified([e])


if __name__ == "__main__":
    unittest.main()
