-- wrk script for the breakdown probes of bench.py: one request shape, every reply's status (and,
-- optionally, a substring of its body) checked.
--
--   PROBE_METHOD=POST PROBE_TOKEN=<token> PROBE_STATUS=401 PROBE_EXPECT=invalid_token \
--     wrk -t2 -c64 -d5s -s Benchmarks/gateway/status.lua http://127.0.0.1:PORT/mcp/static
--
-- POST sends the self-contained 2026-07-28 `tools/call` of `echo` that bench/mcp_tools_call.lua sends;
-- GET sends no body. Prints the same summary lines as mcp_tools_call.lua.

local method = os.getenv("PROBE_METHOD") or "GET"
local token = os.getenv("PROBE_TOKEN")
local want = tonumber(os.getenv("PROBE_STATUS") or "200")
local expect = os.getenv("PROBE_EXPECT")
local version = "2026-07-28"

wrk.method = method
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if method == "POST" then
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json, text/event-stream"
    wrk.headers["MCP-Protocol-Version"] = version
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = "echo"
    wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{},'
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
    if status == want and (expect == nil or expect == "" or (body ~= nil and body:find(expect, 1, true) ~= nil)) then
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
