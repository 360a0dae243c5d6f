"""The MCP surface: every app ``allowed_apps`` names is a tool, over MCP's Streamable HTTP transport."""

from relay.mcp_server.handler import serve_mcp

__all__ = ["serve_mcp"]
