"""The protocol-neutral core: who may call, which app, the call itself, Dify's failures, the event pump.

Every surface (the native routes, the OpenAI-compatible API, MCP) parses its own requests and renders its own
responses, and goes through this core for everything in between; none reaches around it, and adding a surface
changes nothing here.
"""
