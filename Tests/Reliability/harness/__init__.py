"""Helpers of the reliability suite: a fault-injecting TCP proxy, a recording MCP backend, the processes
of one installation (dev-upstream, the tollgate CLI and `serve`), a user agent that makes grants through
the real HTTP flow, and the traffic workers that record every outcome."""
