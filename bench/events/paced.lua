-- POST an assessment ("accept") of the next submitted registration in BENCH_IDS_FILE, as an
-- admin; each connection waits BENCH_DELAY_MS between its requests (the write rate).
local ids = {}
local index = 0
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local token = os.getenv("BENCH_TOKEN")
local body = '{"decision": "accept"}'

function init(args)
  for line in io.lines(os.getenv("BENCH_IDS_FILE")) do ids[#ids + 1] = line end
  local thread = tonumber(os.getenv("BENCH_THREAD") or "0")
  index = thread
end

function request()
  index = index + 1
  local id = ids[((index - 1) % #ids) + 1]
  return wrk.format("POST", "/api/v1/registrations/" .. id .. "/assessment",
                    {["Authorization"] = "Bearer " .. token,
                     ["Content-Type"] = "application/json"}, body)
end

function delay()
  return delay_ms
end
