-- One wrk script for every scenario of bench/run.py:
--   wrk ... -s scenario.lua URL -- MODE DATAFILE THREADS PASSWORD
-- MODE: bare | me | refresh | login. DATAFILE: one access token, refresh token or login per line; each
-- wrk thread takes every THREADS-th line so no two threads share one.
--
-- refresh: every refresh token is presented exactly once. A thread keeps a FIFO of live tokens (at least as
-- many as its connections); request() takes the oldest, response() puts back the successor from the 200
-- body. A connection sends its next request only after its response hook ran, so a token is never used twice;
-- a failed refresh drops its chain and is counted (never retried with a spent token).
-- Every scenario counts 2xx and non-2xx answers itself: wrk's own error count ignores 3xx.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  local datafile, nthreads = args[2], tonumber(args[3] or "1")
  password = args[4] or ""
  ok, bad, statuses = 0, 0, ""
  items, first, pos = {}, 1, 0
  if datafile and datafile ~= "-" then
    local i = 0
    for line in io.lines(datafile) do
      if line ~= "" then
        if i % nthreads == id then table.insert(items, line) end
        i = i + 1
      end
    end
  end
  last = #items
  headers = { ["X-Forwarded-Proto"] = "https", ["Content-Type"] = "application/json" }
end

local function next_item()
  pos = pos + 1
  return items[(pos - 1) % #items + 1]
end

function request()
  if mode == "bare" then
    return wrk.format("GET", "/api/v1/bench/bare", headers)
  elseif mode == "me" then
    headers["Authorization"] = "Bearer " .. next_item()
    return wrk.format("GET", "/api/v1/me", headers)
  elseif mode == "login" then
    -- Logins come from many clients: each user from its own address (the proxy's X-Forwarded-For), so the
    -- per-IP login limit (10/min) applies as in production and is not what the run measures.
    local n = (pos % #items)
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", id + 1, math.floor(n / 250), n % 250 + 1)
    return wrk.format("POST", "/api/v1/auth/token", headers,
      '{"login":"' .. next_item() .. '","password":"' .. password .. '"}')
  elseif mode == "refresh" then
    local token = nil
    if first <= last then token = items[first] end
    if token == nil then
      token = "no-live-token-left"  -- answered 401 and counted as a failure
    else
      items[first] = nil
      first = first + 1
    end
    -- Refreshes come from many clients too: the per-IP ceiling on anonymous requests (300/min) applies as
    -- in production and is not what the run measures.
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", id + 101, math.floor(pos / 250) % 250, pos % 250 + 1)
    pos = pos + 1
    return wrk.format("POST", "/api/v1/auth/token/refresh", headers, '{"refresh":"' .. token .. '"}')
  end
  error("unknown mode " .. tostring(mode))
end

function response(status, resp_headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    if mode == "refresh" then
      local successor = string.match(body, '"refresh"%s*:%s*"([^"]+)"')
      if successor then
        last = last + 1
        items[last] = successor
      end
    end
  else
    bad = bad + 1
    if #statuses < 200 then statuses = statuses .. status .. " " end
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, seen = 0, 0, ""
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    bad_total = bad_total + thread:get("bad")
    seen = seen .. thread:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"statuses":"%s"}\n',
    summary.requests, summary.duration, ok_total, bad_total,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, seen))
end
