"""Transports: how duomcp carries JSON-RPC messages to and from a server."""
