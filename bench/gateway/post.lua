-- POST a registration; every request signs in as a different participant (one active
-- registration per participant), cycling through the tokens in BENCH_TOKENS_FILE.
local tokens = {}
local body = nil
local index = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do tokens[#tokens + 1] = line end
  local f = io.open(os.getenv("BENCH_BODY_FILE"), "r")
  body = f:read("*a")
  f:close()
  -- each wrk thread takes its own slice of the tokens
  index = (tonumber(os.getenv("BENCH_THREAD_OFFSET") or "0"))
end

function request()
  index = index + 1
  local token = tokens[(index % #tokens) + 1]
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token,
                                  ["Content-Type"] = "application/json"}, body)
end
