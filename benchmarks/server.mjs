// A minimal, fast MCP server (legacy era, Streamable HTTP) for client benchmarks.
//
//   node benchmarks/server.mjs [--port N | --ports COUNT] [--sse]
//
// Answers initialize (issuing Mcp-Session-Id), tools/list and tools/call `echo` (which
// holds its reply `hold_ms` milliseconds when asked, so calls stay in flight) and `big` (a
// ~256 KiB text result), with one JSON body or (--sse) a single-event SSE stream. Like any
// legacy-only server it refuses a request that carries no session (e.g. a 2026-07-28
// `server/discover` probe) with 400 and a JSON-RPC error, so era-detecting clients fall
// back to initialize. GET /mcp is 405.
// GET /stats reports the server's own CPU time and the TCP connections it accepted, so a
// run can show the server was not the bottleneck. Prints "listening <port>" when ready;
// with --ports COUNT it listens on COUNT ports (one process standing for COUNT servers,
// sessions and stats shared) and prints "listening <port> <port> ...".
import http from "node:http";

const args = process.argv.slice(2);
const sse = args.includes("--sse");
const portAt = args.indexOf("--port");
const port = portAt >= 0 ? Number(args[portAt + 1]) : 0;
const portsAt = args.indexOf("--ports");
const portCount = portsAt >= 0 ? Number(args[portsAt + 1]) : 1;

let connections = 0;
let requests = 0;
const sessions = new Set();
const TOOLS = {
  tools: [
    {
      name: "echo",
      description: "Echo the text back.",
      inputSchema: { type: "object", properties: { text: { type: "string" } } },
    },
    {
      name: "big",
      description: "A text result of about 256 KiB.",
      inputSchema: { type: "object", properties: {} },
    },
  ],
};
const BIG_BYTES = 256 * 1024;
const line = "The quick brown fox jumps over the lazy dog; \"quoted\" and\ttabbed.\n";
const BIG_RESULT = JSON.stringify({
  content: [{ type: "text", text: line.repeat(Math.ceil(BIG_BYTES / line.length)).slice(0, BIG_BYTES) }],
});

function reply(res, status, message, headers = {}) {
  send(res, status, JSON.stringify(message), headers);
}

function send(res, status, body, headers = {}) {
  if (sse && status === 200) {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", ...headers });
    res.end(`event: message\ndata: ${body}\n\n`);
  } else {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(body);
  }
}

function handle(req, res, raw) {
  let message;
  try {
    message = JSON.parse(raw);
  } catch {
    return reply(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
  }
  if (message.id === undefined) {
    res.writeHead(202);
    return res.end();
  }
  const { id, method, params } = message;
  if (method === "initialize") {
    const session = `s${sessions.size + 1}-${Date.now()}`;
    sessions.add(session);
    const result = {
      protocolVersion: params?.protocolVersion ?? "2025-11-25",
      capabilities: { tools: {} },
      serverInfo: { name: "bench-node", version: "1.0.0" },
    };
    return reply(res, 200, { jsonrpc: "2.0", id, result }, { "Mcp-Session-Id": session });
  }
  if (!sessions.has(req.headers["mcp-session-id"])) {
    return reply(res, 400, { jsonrpc: "2.0", id, error: { code: -32600, message: "Bad Request: no session" } });
  }
  if (method === "tools/list") return reply(res, 200, { jsonrpc: "2.0", id, result: TOOLS });
  if (method === "tools/call" && params?.name === "echo") {
    const text = String(params.arguments?.text ?? "");
    const answer = { jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } };
    const hold = Number(params.arguments?.hold_ms ?? 0);
    if (hold > 0) return setTimeout(() => reply(res, 200, answer), hold);
    return reply(res, 200, answer);
  }
  if (method === "tools/call" && params?.name === "big") {
    return send(res, 200, `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${BIG_RESULT}}`);
  }
  if (method === "ping") return reply(res, 200, { jsonrpc: "2.0", id, result: {} });
  return reply(res, 200, { jsonrpc: "2.0", id, error: { code: -32601, message: `no ${method}` } });
}

function serve(req, res) {
  if (req.url === "/stats") {
    const cpu = process.cpuUsage();
    res.writeHead(200, { "Content-Type": "application/json" });
    return res.end(JSON.stringify({ connections, requests, cpu_us: cpu.user + cpu.system }));
  }
  requests += 1;
  if (req.method === "DELETE") {
    res.writeHead(200);
    return res.end();
  }
  if (req.method !== "POST") {
    res.writeHead(405, { Allow: "POST, DELETE" });
    return res.end();
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
}

function listen(at) {
  const server = http.createServer(serve);
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.on("connection", () => {
    connections += 1;
  });
  return new Promise((resolve) => server.listen(at, "127.0.0.1", () => resolve(server.address().port)));
}

const servers = [listen(port)];
for (let n = 1; n < portCount; n++) servers.push(listen(0));
console.log(`listening ${(await Promise.all(servers)).join(" ")}`);
