"""The hand-written client API layer; ``duomcp._sync`` is generated from it."""
