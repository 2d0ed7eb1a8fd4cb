-- GET the paths listed in BENCH_PATHS_FILE, one after the other, with BENCH_TOKEN.
local paths = {}
local index = 0
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS_FILE")) do paths[#paths + 1] = line end
end

function request()
  index = index + 1
  return wrk.format("GET", paths[(index % #paths) + 1])
end
