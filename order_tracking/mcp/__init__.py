"""MCP both ways: ``server`` offers the four tools to any MCP client (``track-order mcp``);
``client`` takes the tools from an MCP server instead of the backends (``TOOLS_MCP_URL``)."""
