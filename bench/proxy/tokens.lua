-- wrk script of the rampart-jwt target and of its control, rampart-tokens
-- (the same requests through Rampart without auth): every request carries
-- "Authorization: Bearer <token>", cycling through the pool of distinct
-- tokens in the file named by the first script argument:
--
--   wrk -s bench/proxy/tokens.lua http://127.0.0.1:PORT/ TOKENS_FILE
--
-- The file is read once per wrk thread (init); each thread formats its
-- requests there, so request() costs wrk only a table lookup. Apart from the
-- Authorization header the request is wrk's default: GET / with Host.

local requests = {}
local count = 0
local next_index = 0

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  local path = args[1]
  assert(path, "tokens.lua: pass the tokens file after the URL")
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if #line > 0 then
      count = count + 1
      requests[count] = wrk.format("GET", "/", {["Authorization"] = "Bearer " .. line})
    end
  end
  file:close()
  assert(count > 0, "tokens.lua: no tokens in " .. path)
  -- Threads start at different places in the pool.
  next_index = ((thread_id or 0) * 1000) % count
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end
