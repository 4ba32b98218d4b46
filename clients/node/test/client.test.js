'use strict';
// dlhost-client against a real `dlhost serve` and a real nginx origin, both
// on loopback, started here and stopped by their own pids.
// DLHOST_BIN: the dlhost binary (ctest passes the build's).
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');
const dl = require('..');

const BIN = process.env.DLHOST_BIN || path.resolve(__dirname, '../../../build/bin/dlhost');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlhost-node-'));
fs.chmodSync(tmp, 0o755);
const data = path.join(tmp, 'data');
const files = [];
let origin = null;
let originPort = 0;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitPort(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

test.before(async () => {
  fs.mkdirSync(path.join(data, 'p'), { recursive: true });
  for (let i = 0; i < 30; i++) {
    const bytes = crypto.randomBytes(3000 + i);
    const name = `p/f${i}.bin`;
    fs.writeFileSync(path.join(data, name), bytes);
    files.push({ name, size: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') });
  }
  originPort = await freePort();
  const conf = path.join(tmp, 'nginx.conf');
  const user = process.getuid && process.getuid() === 0 ? 'user root;' : '';
  fs.writeFileSync(conf, `${user}
daemon off; master_process on; worker_processes 1;
pid ${tmp}/nginx.pid; error_log ${tmp}/error.log;
events { worker_connections 1024; }
http {
  access_log ${tmp}/access.log;
  client_body_temp_path ${tmp}/b; proxy_temp_path ${tmp}/p; fastcgi_temp_path ${tmp}/f;
  uwsgi_temp_path ${tmp}/u; scgi_temp_path ${tmp}/s;
  server { listen 127.0.0.1:${originPort}; root ${data}; }
}
`);
  origin = spawn(NGINX, ['-c', conf, '-p', tmp], { stdio: 'ignore' });
  await waitPort(originPort);
});

test.after(() => {
  if (origin) origin.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
});

const url = (name) => `http://127.0.0.1:${originPort}/${name}`;

test('the module-level functions start a service, download, verify and shut it down', async () => {
  const out = path.join(tmp, 'out1');
  dl.configure({ spawn: { bin: BIN, out, env: { PROXY_LIST: '' } } });
  const results = await Promise.all(files.slice(0, 20).map((f) =>
    dl.downloadFile(url(f.name), { path: f.name, sha256: f.sha256, size: f.size })));
  assert.deepStrictEqual(results.map((r) => r.path), files.slice(0, 20).map((f) => f.name));
  for (const f of files.slice(0, 20)) {
    const bytes = fs.readFileSync(path.join(out, f.name));
    assert.strictEqual(crypto.createHash('sha256').update(bytes).digest('hex'), f.sha256);
  }
  // The original call shape: a path as the second argument.
  const again = await dl.downloadFile(url(files[0].name), files[0].name);
  assert.strictEqual(again.path, files[0].name);
  const stats = await dl.getOrchestratorStats();
  assert.strictEqual(stats.files.completed, 20);
  const health = await dl.getProxyHealth();
  assert.strictEqual(health.proxies[0].id, 'direct');
  await assert.rejects(dl.downloadFile(url('p/missing.bin'), 'missing.bin'),
    (e) => e instanceof dl.DownloadError && e.failure === 'http' && e.httpStatus === 404);
  await assert.rejects(dl.downloadFile(url(files[1].name), { path: 'wrong.bin', sha256: '0'.repeat(64) }),
    (e) => e instanceof dl.DownloadError && e.failure === 'verify');
  await assert.rejects(dl.addProxy({ ip: '127.0.0.1' }),
    (e) => e instanceof dl.RpcError && e.code === -32602);
  await assert.rejects(dl.downloadFile(url(files[2].name), { path: '../out.bin' }),
    (e) => e instanceof dl.RpcError && /path/.test(e.message));
  const shut = await dl.shutdownOrchestrator({ graceMs: 1000 });
  assert.strictEqual(shut.shutting_down, true);
});

test('a running service at a URL with a token; events as an async iterator', async () => {
  const port = await freePort();
  const token = crypto.randomBytes(12).toString('hex');
  const tokenFile = path.join(tmp, 'token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const out = path.join(tmp, 'out2');
  const serve = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--token-file', tokenFile,
    '--out', out, '--progress', 'none'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PROXY_LIST: '' } });
  let stderr = '';
  serve.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => serve.on('exit', resolve));
  await waitPort(port);

  const wrong = new dl.Client({ url: `http://127.0.0.1:${port}/`, token: 'nope' });
  await assert.rejects(wrong.getOrchestratorStats(), /HTTP 401/);
  wrong.close();

  const c = new dl.Client({ url: `http://127.0.0.1:${port}/`, token });
  const seen = [];
  const watching = (async () => {
    for await (const e of c.events()) {
      seen.push(e);
      if (seen.filter((x) => x.type === 'file.completed').length === 10) break;
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  const done = await Promise.all(files.slice(20).map((f) => c.downloadFile(url(f.name), f.name)));
  await watching;
  assert.deepStrictEqual(new Set(seen.filter((x) => x.type === 'file.completed').map((x) => x.id)),
    new Set(done.map((d) => d.id)));
  await c.shutdownOrchestrator({ graceMs: 500 });
  assert.strictEqual(await exited, 0);
  assert.ok(!stderr.includes(token), 'the token appears in no output');
});
