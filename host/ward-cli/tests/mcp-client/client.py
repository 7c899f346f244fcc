"""Drives `ward mcp` with the official Python MCP client (stdio transport).

Usage: python client.py WARD_BIN < steps.json

The environment given to `ward mcp` is WARD_HOME plus WARD_TOKEN (when set) and the step list's
"env"; with "bare_env": true, none of them. Steps (a JSON list), each answered with one JSON object on stdout, in order:
  {"op": "list"}                            -> {"tools": [{name, title, description, inputSchema}]} | {"error": str}
  {"op": "call", "name": N, "args": {...}}  -> {"isError": bool, "text": str, "structured": ...} | {"error": str}
  {"op": "exec", "argv": [...]}             -> {"status": int, "stdout": str, "stderr": str}
In "exec" argv and "call" args, the string "{ward}" is replaced by WARD_BIN and "{confirmation}"
by the confirmation id of the last pending call.
"""

import asyncio
import json
import os
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def substitute(value, ward, confirmation):
    if isinstance(value, str):
        return value.replace("{ward}", ward).replace("{confirmation}", confirmation or "")
    if isinstance(value, list):
        return [substitute(v, ward, confirmation) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, ward, confirmation) for k, v in value.items()}
    return value


async def main():
    ward = sys.argv[1]
    spec = json.load(sys.stdin)
    env = {"WARD_HOME": os.environ["WARD_HOME"]}
    if "WARD_TOKEN" in os.environ:
        env["WARD_TOKEN"] = os.environ["WARD_TOKEN"]
    env.update(spec.get("env", {}))
    if spec.get("bare_env"):
        # As a client that passes the server none of its own environment (the SDK still adds its
        # default safe variables: HOME, PATH, ...).
        env = {}
    params = StdioServerParameters(command=ward, args=["mcp", *spec.get("args", [])], env=env)
    out = []
    confirmation = None
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out.append({"server": init.server_info.name})
            for step in spec["steps"]:
                op = step["op"]
                if op == "list":
                    try:
                        tools = await session.list_tools()
                        out.append({"tools": [
                            {"name": t.name, "title": t.title, "description": t.description,
                             "inputSchema": t.input_schema}
                            for t in tools.tools
                        ]})
                    except Exception as e:  # noqa: BLE001 - the test inspects the message
                        out.append({"error": str(e)})
                elif op == "call":
                    args = substitute(step.get("args", {}), ward, confirmation)
                    try:
                        r = await session.call_tool(step["name"], args)
                        structured = r.structured_content
                        if isinstance(structured, dict) and structured.get("pending"):
                            confirmation = structured["confirmation"]["id"]
                        out.append({
                            "isError": bool(r.is_error),
                            "text": "\n".join(c.text for c in r.content if c.type == "text"),
                            "structured": structured,
                        })
                    except Exception as e:  # noqa: BLE001
                        out.append({"error": str(e)})
                elif op == "exec":
                    argv = substitute(step["argv"], ward, confirmation)
                    p = subprocess.run(argv, capture_output=True, text=True,
                                       env={**os.environ, "NO_COLOR": "1"})
                    out.append({"status": p.returncode, "stdout": p.stdout, "stderr": p.stderr})
                else:
                    raise SystemExit(f"unknown step {op}")
    json.dump(out, sys.stdout)


asyncio.run(main())
