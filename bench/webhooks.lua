-- wrk script: POST pre-signed Twilio webhooks, each line of the file once, in order.
--
-- Usage: wrk ... -s bench/webhooks.lua <url> -- <file> <start> <threads> <path>
-- The file has one request per line, "<X-Twilio-Signature>\t<form body>". Thread t of T sends
-- lines start+t, start+t+T, start+t+2T, ... so every request of a run is unique as long as the
-- file is long enough (`wrapped` in the result says it was not). `done` prints one line,
-- "WRK_RESULT <json>", that bench/gateway_ingest.py reads.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file, first, nthreads, path = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
  queue = {}
  start = first
  stride = nthreads
  local index = 0
  for line in io.lines(file) do
    if index >= first and (index - first) % nthreads == id then
      local tab = line:find("\t", 1, true)
      queue[#queue + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = line:sub(1, tab - 1),
      }, line:sub(tab + 1))
    end
    index = index + 1
  end
  cursor = 0
  sent = 0
  wrapped = 0
end

function request()
  cursor = cursor + 1
  if cursor > #queue then
    cursor = 1
    wrapped = 1
  end
  sent = sent + 1
  return queue[cursor]
end

function done(summary, latency, requests)
  local total_sent, last_index, wrapped_any = 0, -1, 0
  for _, thread in ipairs(threads) do
    local thread_sent = thread:get("sent")
    total_sent = total_sent + thread_sent
    if thread_sent > 0 then
      local index = thread:get("start") + thread:get("id")
        + (thread_sent - 1) * thread:get("stride")
      if index > last_index then last_index = index end
    end
    if thread:get("wrapped") == 1 then wrapped_any = 1 end
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"duration_us": %d, "requests": %d, "bytes": %d, "sent": %d, '
      .. '"last_index": %d, "wrapped": %s, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "max": %d, '
      .. '"p50": %d, "p90": %d, "p99": %d, "p999": %d}}\n',
    summary.duration, summary.requests, summary.bytes, total_sent, last_index,
    wrapped_any == 1 and "true" or "false",
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
