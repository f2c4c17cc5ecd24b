-- wrk script: POST /process with the body in $POLL_BODY (a poll of one completed task).
-- wrk prints "Non-2xx or 3xx responses" when a poll did not return 200 completed.
local path = os.getenv("POLL_BODY")
if not path then
  error("set POLL_BODY to the poll.json that docsnap-load seal wrote")
end
local file = assert(io.open(path, "r"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
