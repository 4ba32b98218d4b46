'use strict';
// dlhost-client: the original downloader module's functions, over a running
// `dlhost serve` (POST /rpc: JSON-RPC 2.0; GET /events: Server-Sent Events).
//
// Node's standard library only. One Client holds one keep-alive agent for
// the calls and one event stream, opened on first use and reopened with
// Last-Event-ID if it drops, which settles every downloadFile() promise:
// the file's own terminal event resolves (file.completed, file.skipped) or
// rejects (file.failed) it. A file that settled before its promise was
// registered is caught by one getFile() after registering.
//
// The module-level functions use a default client: the service at
// DLHOST_URL (and DLHOST_TOKEN), or, when none is set, a `dlhost serve` the
// client starts itself on a free loopback port (DLHOST_BIN, else `dlhost` on
// PATH; files go to DLHOST_OUT, else ./downloads) and stops at
// shutdownOrchestrator().

const http = require('node:http');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { EventEmitter } = require('node:events');

class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.name = 'RpcError';
    this.code = error.code;
  }
}

class DownloadError extends Error {
  constructor(event) {
    super(event.message || `download failed: ${event.failure}`);
    this.name = 'DownloadError';
    this.failure = event.failure; // http, timeout, verify, cancelled, ...
    this.httpStatus = event.http_status;
    this.id = event.id;
    this.path = event.path;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

class Client extends EventEmitter {
  // options: {url, token} for a running service, or {spawn: {bin, out, args, env}}
  // to start one (the default when no url is given).
  constructor(options = {}) {
    super();
    this.url = options.url ? new URL(options.url) : null;
    this.token = options.token || null;
    this.spawnOptions = options.spawn || {};
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.nextId = 0;
    this.waiters = new Map(); // file id -> {resolve, reject}
    this.subscribers = new Set(); // event iterators' queues
    this.lastEventId = null;
    this.stream = null;
    this.streamOpen = null;
    this.child = null;
    this.started = null;
    this.closing = false;
  }

  // --- the service ------------------------------------------------------------

  async ready() {
    if (this.url) return;
    if (!this.started) this.started = this.startService();
    await this.started;
  }

  async startService() {
    const port = await freePort();
    const o = this.spawnOptions;
    const bin = o.bin || process.env.DLHOST_BIN || 'dlhost';
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--progress', 'none',
      '--out', o.out || process.env.DLHOST_OUT || 'downloads', ...(o.args || [])];
    this.child = spawn(bin, args, { env: { ...process.env, ...(o.env || {}) },
      stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    this.childExit = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    const url = new URL(`http://127.0.0.1:${port}/`);
    const deadline = Date.now() + 30000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`dlhost serve exited ${this.child.exitCode}: ${stderr}`);
      try {
        await this.request(url, 'GET', '/stats');
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`dlhost serve did not answer: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.url = url;
  }

  headers(extra = {}) {
    const h = { ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  request(url, method, path, body) {
    return new Promise((resolve, reject) => {
      const req = http.request(new URL(path, url), {
        method, agent: this.agent,
        headers: this.headers(body ? { 'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body) } : {}), // not chunked: kept alive
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text.trim()}`));
          else resolve(text);
        });
      });
      req.on('error', reject);
      if (body) req.write(body);
      req.end();
    });
  }

  async call(method, params) {
    await this.ready();
    const id = ++this.nextId;
    const text = await this.request(this.url, 'POST', '/rpc',
      JSON.stringify({ jsonrpc: '2.0', id, method, params: params || {} }));
    const answer = JSON.parse(text);
    if (answer.error) throw new RpcError(answer.error);
    return answer.result;
  }

  // --- events -----------------------------------------------------------------

  openEvents() {
    if (this.streamOpen) return this.streamOpen;
    this.streamOpen = new Promise((resolve, reject) => {
      const headers = this.headers({ Accept: 'text/event-stream' });
      if (this.lastEventId !== null) headers['Last-Event-ID'] = String(this.lastEventId);
      const req = http.request(new URL('/events', this.url), { headers }, (res) => {
        if (res.statusCode !== 200) {
          this.streamOpen = null;
          res.resume();
          return reject(new Error(`GET /events: HTTP ${res.statusCode}`));
        }
        this.stream = req;
        resolve();
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            this.onFrame(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        });
        res.on('end', () => this.onStreamEnd());
        res.on('error', () => this.onStreamEnd());
      });
      req.on('error', (e) => {
        this.streamOpen = null;
        if (this.stream === null) reject(e);
        else this.onStreamEnd();
      });
      req.end();
    });
    return this.streamOpen;
  }

  onStreamEnd() {
    this.stream = null;
    this.streamOpen = null;
    if (this.closing) return this.endSubscribers();
    // The service went away or the connection dropped: reopen where it
    // stopped while anyone waits; give up when the service is gone.
    if (this.waiters.size === 0 && this.subscribers.size === 0) return undefined;
    setTimeout(() => this.openEvents().catch((e) => this.failAll(e)), 200);
    return undefined;
  }

  onFrame(frame) {
    let data = '';
    for (const line of frame.split('\n')) {
      if (line.startsWith('id: ')) this.lastEventId = Number(line.slice(4));
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (!data) return;
    const event = JSON.parse(data);
    for (const queue of this.subscribers) queue.push(event);
    this.emit('event', event);
    if (!event.id || !this.waiters.has(event.id)) return;
    this.settle(event.id, event);
  }

  settle(id, event) {
    const w = this.waiters.get(id);
    if (!w) return;
    if (event.type === 'file.completed' || event.type === 'file.skipped') {
      this.waiters.delete(id);
      w.resolve({ id, path: event.path, bytes: event.bytes, sha256: event.sha256 || null,
        skipped: event.type === 'file.skipped' ? event.reason : null });
    } else if (event.type === 'file.failed') {
      this.waiters.delete(id);
      w.reject(new DownloadError(event));
    }
  }

  failAll(error) {
    for (const [, w] of this.waiters) w.reject(error);
    this.waiters.clear();
  }

  endSubscribers() {
    for (const queue of this.subscribers) queue.end();
  }

  // An async iterator over every event from now on (docs/EVENTS.md).
  events() {
    const client = this;
    const items = [];
    let wake = null;
    let ended = false;
    const queue = {
      push(e) { items.push(e); if (wake) { wake(); wake = null; } },
      end() { ended = true; if (wake) { wake(); wake = null; } },
    };
    return {
      async* [Symbol.asyncIterator]() {
        await client.ready();
        client.subscribers.add(queue);
        try {
          await client.openEvents();
          for (;;) {
            while (items.length) yield items.shift();
            if (ended) return;
            await new Promise((r) => { wake = r; });
          }
        } finally {
          client.subscribers.delete(queue);
        }
      },
    };
  }

  // --- the original module's functions ------------------------------------------

  // downloadFile(url, path?) or downloadFile(url, {path, group, sha256, size}):
  // resolves once the file is complete (or was already), rejects with a
  // DownloadError (.failure, .httpStatus) when it failed.
  async downloadFile(url, options) {
    return this.download('downloadFile', url, options, {});
  }

  async downloadFileWithProxy(url, proxy, options) {
    return this.download('downloadFileWithProxy', url, options, { proxy });
  }

  async download(method, url, options, extra) {
    await this.ready();
    await this.openEvents();
    const o = typeof options === 'string' ? { path: options } : (options || {});
    const params = { url, ...extra };
    for (const k of ['path', 'group', 'sha256', 'size']) if (o[k] !== undefined) params[k] = o[k];
    const { id } = await this.call(method, params);
    const done = new Promise((resolve, reject) => this.waiters.set(id, { resolve, reject }));
    const file = await this.call('getFile', { id });
    if (['completed', 'skipped', 'failed', 'cancelled'].includes(file.state)) {
      this.settle(id, { ...file, type: file.state === 'completed' ? 'file.completed'
        : file.state === 'skipped' ? 'file.skipped' : 'file.failed',
      failure: file.failure || (file.state === 'cancelled' ? 'cancelled' : null) });
    }
    return done;
  }

  getOrchestratorStats() { return this.call('getOrchestratorStats'); }
  getProxyHealth() { return this.call('getProxyHealth'); }
  listProxies() { return this.call('listProxies'); }
  addProxy(entry) { return this.call('addProxy', { entry }); }
  removeProxy(id) { return this.call('removeProxy', { id }); }
  getFile(id) { return this.call('getFile', { id }); }
  cancel(id) { return this.call('cancel', { id }); }

  // Ends the service: running files get graceMs to finish. A service this
  // client started is waited for; then the client closes.
  async shutdownOrchestrator({ graceMs } = {}) {
    this.closing = true;
    const result = await this.call('shutdownOrchestrator', graceMs === undefined ? {} : { grace_ms: graceMs });
    if (this.child) {
      const code = await this.childExit;
      if (code !== 0) throw new Error(`dlhost serve exited ${code}`);
    }
    this.close();
    return result;
  }

  // Closes the event stream and the connections (not the service).
  close() {
    this.closing = true;
    if (this.stream) this.stream.destroy();
    this.endSubscribers();
    this.agent.destroy();
  }
}

// The default client behind the module-level functions.
let defaultClient = null;
function client() {
  if (!defaultClient) {
    defaultClient = new Client({ url: process.env.DLHOST_URL, token: process.env.DLHOST_TOKEN });
  }
  return defaultClient;
}

module.exports = {
  Client,
  RpcError,
  DownloadError,
  configure(options) { defaultClient = new Client(options); return defaultClient; },
  downloadFile: (...a) => client().downloadFile(...a),
  downloadFileWithProxy: (...a) => client().downloadFileWithProxy(...a),
  getOrchestratorStats: () => client().getOrchestratorStats(),
  getProxyHealth: () => client().getProxyHealth(),
  shutdownOrchestrator: async (o) => {
    const c = client();
    defaultClient = null;
    return c.shutdownOrchestrator(o);
  },
  addProxy: (entry) => client().addProxy(entry),
  removeProxy: (id) => client().removeProxy(id),
  listProxies: () => client().listProxies(),
  getFile: (id) => client().getFile(id),
  cancel: (id) => client().cancel(id),
  events: () => client().events(),
};
