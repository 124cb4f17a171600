-- wrk script: POST the AdmissionReview in $REVIEW (a file) as application/json.
local f = assert(io.open(os.getenv("REVIEW"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- Count answers that are not HTTP 200 or not allowed, so a broken run is not reported as fast.
local bad = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"allowed":true', 1, true) then
    bad = bad + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
