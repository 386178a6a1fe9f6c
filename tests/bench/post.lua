-- wrk script for `make bench`: POSTs one JSON execute request on every keep-alive connection and
-- counts the answers by kind. The body comes from the environment (BENCH_BODY), default Python
-- print(1). At the end one line "BENCH_JSON {...}" sums the per-thread counters and the latency
-- distribution (microseconds), which tests/bench/bench.py parses; the first few answers that are
-- not ok are also written to stderr as "BENCH_BAD <body>" lines, so that a failure can be read.
--
--   ok       200 whose body says "status":"ok"
--   bad200   200 with another status (the program did not run cleanly: counted as an error)
--   s503     503 (overloaded / executor_unavailable / shutting_down), retry: of those, with a
--            Retry-After header
--   other    any other non-200 answer

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or '{"language":"python","code":"print(1)"}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    ok, bad200, s503, retry, other = 0, 0, 0, 0, 0
end

function response(status, headers, body)
    if status == 200 then
        if string.find(body, '"status":"ok"', 1, true) then
            ok = ok + 1
        else
            bad200 = bad200 + 1
            if bad200 <= 3 then
                io.stderr:write("BENCH_BAD " .. string.sub(body, 1, 600) .. "\n")
            end
        end
    elseif status == 503 then
        s503 = s503 + 1
        if headers["Retry-After"] or headers["retry-after"] then
            retry = retry + 1
        end
    else
        other = other + 1
        if other <= 3 then
            io.stderr:write("BENCH_BAD " .. status .. " " .. string.sub(body, 1, 600) .. "\n")
        end
    end
end

function done(summary, latency, requests)
    local t = {ok = 0, bad200 = 0, s503 = 0, retry = 0, other = 0}
    for _, th in ipairs(threads) do
        for k, _ in pairs(t) do
            t[k] = t[k] + (th:get(k) or 0)
        end
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"bad200":%d,"s503":%d,"retry_after":%d,' ..
        '"other":%d,"connect_err":%d,"read_err":%d,"write_err":%d,"timeouts":%d,' ..
        '"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,"lat_mean_us":%.0f}\n',
        summary.requests, summary.duration, t.ok, t.bad200, t.s503, t.retry, t.other,
        e.connect, e.read, e.write, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
        latency.mean))
end
