-- GET one registration with the owner's token.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
