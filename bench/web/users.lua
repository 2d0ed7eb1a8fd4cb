-- Signed-in users in turn: each line of BENCH_PAIRS_FILE is "<token> <path>". The web pages
-- send the token as the session cookie, the JSON API as a bearer token (BENCH_KIND).
local pairs_list = {}
for line in io.lines(os.getenv("BENCH_PAIRS_FILE")) do
  local token, path = line:match("^(%S+) (%S+)$")
  table.insert(pairs_list, {token, path})
end
local kind = os.getenv("BENCH_KIND")
local i = 0

request = function()
  i = i % #pairs_list + 1
  local token, path = pairs_list[i][1], pairs_list[i][2]
  local headers = {["Accept-Encoding"] = "gzip"}
  if kind == "cookie" then
    headers["Cookie"] = "cxc_session=" .. token
  else
    headers["Authorization"] = "Bearer " .. token
  end
  return wrk.format("GET", path, headers)
end

done = function(summary, latency, requests)
  io.write(string.format("p95_us %d\n", latency:percentile(95)))
end
