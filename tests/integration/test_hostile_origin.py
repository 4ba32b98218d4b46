"""Both plugins against a hostile or careless origin (dlfix.HostileServer).

What a user checks: the exit status, the bytes stored (sha256 of exactly
what the server sent, like `curl -o`), stderr, and the origin's access log
(every request's headers). A second HostileServer on 127.0.0.2 (another
host) and a third on another port of 127.0.0.1 are the listeners that
cross-origin redirects land on; they log every header they receive.

Legacy makes one attempt per file: where multi-proxy retries within a run,
legacy's run fails and the rerun (the same command again) finishes the job,
which is what a legacy user does.
"""
import hashlib
import json
import unittest

import dlfix
from dlfix import DlhostTestCase

DIRECT = {"isLocalhost": True}
SECRET_HEADERS = {"X-Api-Key": "k-0123-secret", "Authorization": "Bearer t-4567-secret"}


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class HostileOrigin:
    """The tests; mixed into one TestCase per plugin below."""

    RETRIES = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        dlfix.bomb_body()  # made once, before any client waits for it
        cls.origin = dlfix.HostileServer(stall_seconds=10).start()
        cls.addClassCleanup(cls.origin.stop)
        cls.other_host = dlfix.HostileServer("127.0.0.2").start()
        cls.addClassCleanup(cls.other_host.stop)
        cls.other_port = dlfix.HostileServer("127.0.0.1").start()
        cls.addClassCleanup(cls.other_port.stop)

    def env(self, **settings):
        e = {"PROXY_RETRY_BASE_DELAY": 50, "PROXY_MAX_RETRIES": self.RETRIES,
             "PROXY_STALL_TIMEOUT": 5000, "PROXY_LIST": json.dumps([DIRECT])}
        e.update(settings)
        return e

    def entry(self, url_path, name, data=None, server=None):
        e = {"url": (server or self.origin).url(url_path), "path": name}
        if data is not None:
            e.update({"size": len(data), "sha256": sha(data)})
        return e

    def run_to_the_end(self, entries, name, **settings):
        """Runs the job; for legacy, a failed first run is run once more (the
        user's rerun). Returns the last result."""
        m = self.manifest(entries, name=name + ".jsonl")
        r = self.run_job(m, env=self.env(**settings), timeout=120)
        if self.plugin == "legacy" and r.rc == 1:
            r = self.run_job(m, env=self.env(**settings), timeout=120)
        return r

    def stored(self, name) -> bytes:
        return (self.out / name).read_bytes()

    # -- bytes stored are bytes served ------------------------------------------

    def test_content_encoding_is_stored_as_sent(self):
        for enc in ("gzip", "x-gzip"):
            with self.subTest(enc):
                name = f"{self.plugin}-enc-{enc}.tar.gz"
                body = dlfix.gzip_body(name)
                bare = f"{self.plugin}-enc-{enc}-bare.tar.gz"  # nothing to verify against
                r = self.run_job(self.manifest([self.entry(f"gzip/{name}?enc={enc}", name, body),
                                                self.entry(f"gzip/{bare}?enc={enc}", bare)],
                                               name=f"enc-{enc}.jsonl"), env=self.env())
                self.assertRc(r, 0)
                self.assertEqual(self.stored(name), body, "the .tar.gz as served, not decoded")
                self.assertEqual(self.stored(bare), dlfix.gzip_body(bare))
                for req in self.origin.requests_for(name):
                    self.assertEqual(req["headers"].get("Accept-Encoding"), "identity")

    def test_a_gzip_bomb_stays_its_compressed_size(self):
        name = f"{self.plugin}-bomb.bin"
        r = self.run_job(self.manifest([self.entry(f"bomb/{name}", name)]), env=self.env())
        self.assertRc(r, 0)
        self.assertEqual((self.out / name).stat().st_size, len(dlfix.bomb_body()))
        self.assertLess(len(dlfix.bomb_body()), 1 << 20)

    def test_resume_of_an_encoded_file_counts_stored_bytes(self):
        name = f"{self.plugin}-cut.tar.gz"
        body = dlfix.gzip_body(name)
        r = self.run_to_the_end([self.entry(f"gzip/{name}?cut_once=1", name, body)], name)
        self.assertRc(r, 0)
        self.assertEqual(self.stored(name), body)
        first, second = self.origin.requests_for(name)
        self.assertEqual(second["range"], f"bytes={len(body) // 2}-")
        self.assertEqual(second["status"], 206)
        self.assertEqual(second["if_range"], f'"gz-{name}"')

    # -- lying lengths, floods, malformed answers ---------------------------------

    def test_a_malformed_answer_on_a_reused_connection_is_asked_again_on_a_fresh_one(self):
        # The first answer's Content-Length is shorter than what the server
        # sends: the stray bytes arrive after the client sent its next request
        # on that connection, and make the answer unreadable ("HTTP/0.9").
        first, second = f"{self.plugin}-short.bin", f"{self.plugin}-after-short.bin"
        entries = [{**self.entry(f"short/3000/{first}?delay=10", first), "group": "g"},
                   {**self.entry(f"ok/5000/{second}", second, dlfix.det_bytes(second, 5000)),
                    "group": "g"}]
        r = self.run_job(self.manifest(entries, name="short.jsonl"), timeout=120,
                         env=self.env(PROXY_POST_LIMIT=1, PROXY_ATTACHMENT_LIMIT=1))
        self.assertRc(r, 0)
        self.assertEqual(self.stored(first), dlfix.det_bytes(first, 3000), "what the length said")
        self.assertEqual(self.stored(second), dlfix.det_bytes(second, 5000))
        reqs = self.origin.requests_for(second)
        self.assertEqual(len(reqs), 2, "asked once on the spoilt connection, once on a new one")
        self.assertNotEqual(reqs[0]["client_port"], reqs[1]["client_port"])
        self.assertNotIn("HTTP/0.9", r.stderr)

    def test_a_content_length_longer_than_the_body_fails_the_file(self):
        name, good = f"{self.plugin}-long.bin", f"{self.plugin}-long-good.bin"
        r = self.run_job(self.manifest([self.entry(f"long/4000/{name}", name),
                                        self.entry(f"ok/3000/{good}", good,
                                                   dlfix.det_bytes(good, 3000))],
                                       name="long.jsonl"), env=self.env())
        self.assertRc(r, 1)
        self.assertIn(f"failed: {name}", r.stderr)
        self.assertAbsent(self.out / name)
        self.assertEqual(self.part_files(), [], "no validator: nothing worth resuming")
        self.assertEqual(self.stored(good), dlfix.det_bytes(good, 3000))

    def test_a_1_mib_response_header_says_so(self):
        name = f"{self.plugin}-flood.bin"
        r = self.run_job(self.manifest([self.entry(f"flood/{name}?kb=1024", name)]),
                         env=self.env())
        self.assertRc(r, 1)
        self.assertIn("response header too large", r.stderr)
        self.assertNotIn("Out of memory", r.stderr)
        self.assertEqual(self.part_files(), [])

    def test_a_refused_connection_leaves_no_part(self):
        name = f"{self.plugin}-refused.bin"
        url = f"http://127.0.0.1:{dlfix.free_port()}/{name}"
        r = self.run_job(self.manifest([{"url": url, "path": name}]),
                         env=self.env(PROXY_MAX_RETRIES=0))
        self.assertRc(r, 1)
        self.assertEqual(self.files_under(), [], "not even a 0-byte .part")

    def test_max_file_size_fails_a_file_that_grows_past_it(self):
        small, declared, chunked = (f"{self.plugin}-{n}.bin" for n in ("small", "big", "chunked"))
        r = self.run_job(self.manifest([self.entry(f"ok/4000/{small}", small),
                                        self.entry(f"ok/10000/{declared}", declared),
                                        self.entry(f"chunked/10000/{chunked}", chunked)],
                                       name="max.jsonl"),
                         env=self.env(DOWNLOAD_MAX_FILE_SIZE=5000))
        self.assertRc(r, 1)
        self.assertEqual(self.stored(small), dlfix.det_bytes(small, 4000))
        for name in (declared, chunked):  # with a Content-Length, and without one
            self.assertRegex(r.stderr, f"failed: {name}: larger than DOWNLOAD_MAX_FILE_SIZE "
                                       r"\(5000 bytes\)")
            self.assertAbsent(self.out / name)
        self.assertEqual(self.part_files(), [])
        self.assertEqual(len(self.origin.requests_for(chunked)), 1, "not retried")

    # -- block pages ------------------------------------------------------------------

    def test_a_verified_body_is_complete_whatever_its_type(self):
        name = f"{self.plugin}-page.bin"
        r = self.run_job(self.manifest([self.entry(f"html/{name}", name, dlfix.HTML_PAGE)]),
                         env=self.env())
        self.assertRc(r, 0)
        self.assertEqual(self.stored(name), dlfix.HTML_PAGE)

    def test_the_final_type_counts_not_the_redirects(self):
        name = f"{self.plugin}-via-html-302.bin"
        target = self.origin.url(f"ok/3000/{name}")
        r = self.run_job(self.manifest([self.entry(f"goto/{name}?ctype=text/html&to={target}",
                                                   name)]), env=self.env())
        self.assertRc(r, 0)
        self.assertEqual(self.stored(name), dlfix.det_bytes(name, 3000))

    def test_an_html_page_that_fails_verification_is_a_block_page(self):
        name, bare = f"{self.plugin}-blocked.bin", f"{self.plugin}-blocked-bare.bin"
        e = {**self.entry(f"html/{name}", name), **dlfix.expected(name, 8192)}
        r = self.run_job(self.manifest([e, self.entry(f"html/{bare}", bare)], name="bp.jsonl"),
                         env=self.env())
        self.assertRc(r, 1)
        for n in (name, bare):
            line = next((x for x in r.stderr.splitlines() if x.startswith(f"failed: {n}")), "")
            self.assertIn("an HTML page came instead of the file", line, r.stderr)
            self.assertAbsent(self.out / n)

    # -- partial answers are never whole files ---------------------------------------

    def rerun_until_done(self, entry, name, runs=6):
        """Runs the job until it exits 0 (a legacy user reruns it; multi-proxy
        retries within a run). After every run the destination is absent or
        exactly what the server has: a partial answer never stands for it."""
        m = self.manifest([entry], name=name + ".jsonl")
        whole = dlfix.det_bytes(name, 300000)
        for _ in range(runs):
            r = self.run_job(m, env=self.env(PROXY_MAX_RETRIES=5), timeout=120)
            if (self.out / name).exists():
                self.assertEqual(self.stored(name), whole, "stored only when whole")
            if r.rc == 0:
                return r
            self.assertRc(r, 1)
        self.fail(f"{name} not done after {runs} runs")

    def test_a_206_to_a_request_for_the_whole_file_is_not_the_file(self):
        name = f"{self.plugin}-unasked-206.bin"
        m = self.manifest([self.entry(f"partial/300000/{name}", name)], name="unasked.jsonl")
        for _ in range(2):  # and a rerun does not take anything for present
            r = self.run_job(m, env=self.env(), timeout=120)
            self.assertRc(r, 1)
            self.assertIn("partial answer (HTTP 206) to a request for the whole file", r.stderr)
            self.assertAbsent(self.out / name)
        self.assertTrue(all(x["range"] is None for x in self.origin.requests_for(name)))

    def test_a_resume_capped_short_is_resumed_until_whole(self):
        name = f"{self.plugin}-capped.bin"
        self.rerun_until_done(self.entry(f"partial/300000/{name}?mode=capped&cap=60000", name),
                              name)
        reqs = self.origin.requests_for(name)
        self.assertEqual([x["range"] for x in reqs],
                         [None, "bytes=150000-", "bytes=210000-", "bytes=270000-"],
                         "each short answer resumed where it ended")

    def test_a_206_that_starts_elsewhere_starts_over(self):
        name = f"{self.plugin}-offset.bin"
        self.rerun_until_done(self.entry(f"partial/300000/{name}?mode=offset", name), name)
        reqs = self.origin.requests_for(name)
        self.assertEqual([x["range"] for x in reqs], [None, "bytes=150000-", None])

    def test_lying_content_lengths_fail_the_attempt(self):
        for label, query in (("two", ""), ("junk", "?cl=150000abc"), ("huge", "?cl=" + "9" * 20)):
            with self.subTest(label):
                name = f"{self.plugin}-cl-{label}.bin"
                r = self.run_job(self.manifest([self.entry(f"dupcl/300000/{name}{query}", name)],
                                               name=f"cl-{label}.jsonl"), env=self.env())
                self.assertRc(r, 1)
                self.assertIn(f"failed: {name}", r.stderr)
                self.assertAbsent(self.out / name)

    # -- resume is validated ---------------------------------------------------------

    def changed_between_attempts(self, query, name, expect_requests):
        size = 60000
        r = self.run_to_the_end([self.entry(f"versioned/{size}/{name}?{query}", name)], name)
        self.assertRc(r, 0)
        self.assertEqual(self.stored(name), dlfix.versioned_bytes(name, size, 2),
                         "the new version, not half of each")
        reqs = self.origin.requests_for(name)
        self.assertEqual([x["status"] for x in reqs], expect_requests)
        return reqs

    def test_an_etag_change_between_attempts_starts_over(self):
        name = f"{self.plugin}-etag.bin"
        reqs = self.changed_between_attempts("x=1", name, [200, 200])
        self.assertEqual(reqs[1]["if_range"], '"v1"')
        self.assertEqual(reqs[1]["range"], "bytes=30000-")

    def test_a_last_modified_change_between_attempts_starts_over(self):
        name = f"{self.plugin}-lm.bin"
        reqs = self.changed_between_attempts("lm=1", name, [200, 200])
        self.assertRegex(reqs[1]["if_range"] or "", r"GMT$")

    def test_a_server_that_ignores_if_range_is_caught_by_the_validator(self):
        name = f"{self.plugin}-ignores.bin"
        reqs = self.changed_between_attempts("ignore_if_range=1", name, [200, 206, 200])
        self.assertIsNone(reqs[2]["range"])

    def test_no_validator_means_no_resume(self):
        name = f"{self.plugin}-novalidator.bin"
        reqs = self.changed_between_attempts("novalidator=1", name, [200, 200])
        self.assertIsNone(reqs[1]["range"])

    def test_a_whole_part_is_verified_and_committed_without_a_request(self):
        good, wrong = f"{self.plugin}-whole.bin", f"{self.plugin}-whole-wrong.bin"
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / (good + ".part")).write_bytes(dlfix.det_bytes(good, 7000))
        (self.out / (wrong + ".part")).write_bytes(dlfix.wrong_bytes(wrong, 7000))
        r = self.run_job(self.manifest([
            self.entry(f"ok/7000/{good}", good, dlfix.det_bytes(good, 7000)),
            self.entry(f"ok/7000/{wrong}", wrong, dlfix.det_bytes(wrong, 7000))],
            name="whole.jsonl"), env=self.env())
        self.assertRc(r, 0)
        self.assertEqual(self.stored(good), dlfix.det_bytes(good, 7000))
        self.assertEqual(self.stored(wrong), dlfix.det_bytes(wrong, 7000))
        self.assertEqual(self.origin.requests_for(good), [], "verified locally")
        self.assertEqual(len(self.origin.requests_for(wrong)), 1)
        self.assertEqual(self.part_files(), [])

    # -- credentials only where they belong ------------------------------------------

    def cookies_file(self):
        p = self.work / "cookies.txt"
        p.write_text("# Netscape HTTP Cookie File\n"
                     "127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tc-89ab-secret\n")
        return p

    def test_a_redirect_to_another_origin_carries_no_header_and_no_credential(self):
        for label, listener in (("host", self.other_host), ("port", self.other_port)):
            with self.subTest(label):
                name = f"{self.plugin}-xo-{label}.bin"
                target = listener.url(f"ok/3000/{name}")
                url = self.origin.url(f"goto/{name}?to={target}").replace(
                    "http://", "http://alice:pw-cdef-secret@")
                r = self.run_job(self.manifest([{"url": url, "path": name}],
                                               name=f"xo-{label}.jsonl"),
                                 env=self.env(DOWNLOAD_HEADERS=json.dumps(SECRET_HEADERS),
                                              DOWNLOAD_COOKIES=self.cookies_file()))
                self.assertRc(r, 0)
                self.assertEqual(self.stored(name), dlfix.det_bytes(name, 3000))
                [hop1] = self.origin.requests_for(name)
                [hop2] = listener.requests_for(name)
                self.assertEqual(hop1["headers"].get("X-Api-Key"), SECRET_HEADERS["X-Api-Key"])
                self.assertTrue(hop1["headers"].get("Authorization", "").startswith("Bearer"))
                self.assertIn("session=c-89ab-secret", hop1["headers"].get("Cookie", ""))
                sent = json.dumps(hop2["headers"])
                for secret in ("k-0123-secret", "t-4567-secret", "X-Api-Key", "Authorization"):
                    self.assertNotIn(secret, sent)
                if label == "host":  # the cookie's domain is 127.0.0.1 (any port)
                    self.assertNotIn("c-89ab-secret", sent)
                self.assertEqual(hop2["headers"].get("Accept-Encoding"), "identity")
                for text in (r.stdout, r.stderr):
                    self.assertNotIn("secret", text)

    def test_a_redirect_within_the_origin_keeps_the_headers(self):
        name = f"{self.plugin}-same-origin.bin"
        target = self.origin.url(f"ok/3000/{name}")
        r = self.run_job(self.manifest([self.entry(f"goto/{name}?to={target}", name)]),
                         env=self.env(DOWNLOAD_HEADERS=json.dumps(SECRET_HEADERS)))
        self.assertRc(r, 0)
        hops = self.origin.requests_for(name)
        self.assertEqual([h["status"] for h in hops], [302, 200])
        self.assertEqual(hops[1]["headers"].get("X-Api-Key"), SECRET_HEADERS["X-Api-Key"])


class Legacy(HostileOrigin, DlhostTestCase):
    plugin = "legacy"


class MultiProxy(HostileOrigin, DlhostTestCase):
    plugin = "multi-proxy"


if __name__ == "__main__":
    unittest.main()
