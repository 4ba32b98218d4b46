"""Skipping is trustworthy: a file at its destination is skipped only when it
matches the manifest's size and sha256. The sha256 is checked once and
remembered in <out>/.dlhost/ (by device, inode, size and mtime), so a rerun
makes no request and reads no file again; a file that does not match is
downloaded again and replaced. Judged by the origin's access log and the
files' sha256.
"""
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
            # The download run remembered what the plugin verified: changing
            # bytes behind dlhost's back (same size, mtime and inode) goes
            # unnoticed, which shows the rerun did not read the file.
            tampered = self.entries[0]
            overwrite_keeping_stat(self.out / tampered["path"], b"z" * tampered["size"])
            mark = self.nginx.mark()
            r = self.run_job(manifest, plugin=plugin)
            self.assertRc(r, 0)
            self.assertIn("12 skipped", r.stderr)
            self.assertEqual(self.uris_since(mark), [])
            # A real change (a new mtime) is noticed: checked, and replaced.
            path = self.out / tampered["path"]
            os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
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
        tampered = self.entries[3]
        overwrite_keeping_stat(self.out / tampered["path"], b"q" * tampered["size"])
        self.assertRc(self.run_job(manifest), 0)
        self.assertEqual(self.uris_since(mark), [])

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
