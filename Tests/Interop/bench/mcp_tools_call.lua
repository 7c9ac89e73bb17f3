-- wrk script: self-contained MCP `tools/call` POSTs (protocol revision 2026-07-28: no initialize, no
-- Mcp-Session-Id), each reply's body checked in the `response` hook, not just its status.
--
--   MCP_TOKEN=<access token> [MCP_TOOL=whoami] [MCP_EXPECT=<substring of a good reply>] \
--     wrk -t2 -c16 -d30s --latency -s Tests/Interop/bench/mcp_tools_call.lua http://127.0.0.1:PORT/mcp/files
--
-- Works against Tollgate's gateway, FastMCP's proxy (bench/fastmcp_peer.py) and the backend itself.
-- A reply is good when it is HTTP 200, carries a JSON-RPC "result", is not a tool error and, when
-- MCP_EXPECT is set, contains that text. `done` prints the counts; bad replies mean the run is void.
--
-- Probes of other outcomes (Benchmarks/gateway/bench.py's CPU breakdown): MCP_STATUS=<expected status>
-- (a reply is then good when it has that status and contains MCP_EXPECT, if set) and MCP_METHOD=GET
-- (no body, no MCP headers).

local tool = os.getenv("MCP_TOOL") or "whoami"
local token = os.getenv("MCP_TOKEN")
local expect = os.getenv("MCP_EXPECT")
local method = os.getenv("MCP_METHOD") or "POST"
local want = tonumber(os.getenv("MCP_STATUS") or "200")
local version = "2026-07-28"

wrk.method = method
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if method == "POST" then
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json, text/event-stream"
    wrk.headers["MCP-Protocol-Version"] = version
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = tool
    wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' .. tool .. '","arguments":{},'
        .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"' .. version .. '",'
        .. '"io.modelcontextprotocol/clientCapabilities":{}}}}'
end

local threads = {}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    good, bad, first_bad = 0, 0, nil
end

function response(status, headers, body)
    local expected = expect == nil or expect == "" or (body ~= nil and body:find(expect, 1, true) ~= nil)
    local ok
    if want == 200 and method == "POST" then
        ok = status == 200 and body ~= nil and body:find('"result"', 1, true) ~= nil
            and body:find('"isError":true', 1, true) == nil and body:find('"isError": true', 1, true) == nil and expected
    else
        ok = status == want and expected
    end
    if ok then
        good = good + 1
    else
        bad = bad + 1
        if first_bad == nil then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
    end
end

function done(summary, latency, requests)
    local g, b = 0, 0
    for _, thread in ipairs(threads) do
        g = g + thread:get("good")
        b = b + thread:get("bad")
        local fb = thread:get("first_bad")
        if fb then io.write("first bad reply (thread " .. thread:get("id") .. "): " .. fb .. "\n") end
    end
    io.write(string.format("checked replies: %d good, %d bad\n", g, b))
    io.write(string.format("p50 %.2f ms, p99 %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
