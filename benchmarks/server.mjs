// A minimal, fast MCP server (legacy era, Streamable HTTP) for client benchmarks.
//
//   node benchmarks/server.mjs [--port N] [--sse]
//
// Answers initialize (issuing Mcp-Session-Id), tools/list and tools/call `echo`, with one
// JSON body or (--sse) a single-event SSE stream. Like any legacy-only server it refuses a
// request that carries no session (e.g. a 2026-07-28 `server/discover` probe) with 400 and
// a JSON-RPC error, so era-detecting clients fall back to initialize. GET /mcp is 405.
// GET /stats reports the server's own CPU time and the TCP connections it accepted, so a
// run can show the server was not the bottleneck. Prints "listening <port>" when ready.
import http from "node:http";

const args = process.argv.slice(2);
const sse = args.includes("--sse");
const portAt = args.indexOf("--port");
const port = portAt >= 0 ? Number(args[portAt + 1]) : 0;

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
  ],
};

function reply(res, status, message, headers = {}) {
  const body = JSON.stringify(message);
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
    return reply(res, 200, { jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } });
  }
  if (method === "ping") return reply(res, 200, { jsonrpc: "2.0", id, result: {} });
  return reply(res, 200, { jsonrpc: "2.0", id, error: { code: -32601, message: `no ${method}` } });
}

const server = http.createServer((req, res) => {
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
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.on("connection", () => {
  connections += 1;
});
server.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
