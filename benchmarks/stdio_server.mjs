// A minimal, fast MCP server (legacy era, 2025-06-18 style) over stdio, for client benchmarks.
//
//   node benchmarks/stdio_server.mjs
//
// Newline-delimited JSON-RPC on stdin and stdout. Answers initialize (echoing the client's
// protocol version, 2025-06-18 when it names none), ping, tools/list and tools/call `echo`
// and `big` (a ~256 KiB text); notifications (notifications/initialized, .../cancelled)
// and responses get no answer; any other request, such as the 2026-07-28 `server/discover`
// probe, is answered with -32601 (method not found), so era-detecting clients fall back to
// initialize. Nothing is written to stderr. Exits when stdin closes.
import { createInterface } from "node:readline";

const BIG_BYTES = 256 * 1024;
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
const line = "The quick brown fox jumps over the lazy dog; \"quoted\" and\ttabbed.\n";
const BIG_RESULT = JSON.stringify({
  content: [{ type: "text", text: line.repeat(Math.ceil(BIG_BYTES / line.length)).slice(0, BIG_BYTES) }],
});

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function handle(raw) {
  let message;
  try {
    message = JSON.parse(raw);
  } catch {
    return send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
  }
  const { id, method, params } = message;
  if (id === undefined || method === undefined) return; // a notification, or a response
  if (method === "initialize") {
    const result = {
      protocolVersion: params?.protocolVersion ?? "2025-06-18",
      capabilities: { tools: {} },
      serverInfo: { name: "bench-node-stdio", version: "1.0.0" },
    };
    return send({ jsonrpc: "2.0", id, result });
  }
  if (method === "ping") return send({ jsonrpc: "2.0", id, result: {} });
  if (method === "tools/list") return send({ jsonrpc: "2.0", id, result: TOOLS });
  if (method === "tools/call" && params?.name === "echo") {
    const text = String(params.arguments?.text ?? "");
    return send({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } });
  }
  if (method === "tools/call" && params?.name === "big") {
    return process.stdout.write(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${BIG_RESULT}}\n`);
  }
  if (method === "tools/call") {
    return send({ jsonrpc: "2.0", id, error: { code: -32602, message: `Unknown tool: ${params?.name}` } });
  }
  return send({ jsonrpc: "2.0", id, error: { code: -32601, message: `Method not found: ${method}` } });
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (raw) => {
  if (raw.trim()) handle(raw);
});
lines.on("close", () => process.exit(0));
