-- wrk script: GET /api/v1/videos/<id> with an id drawn uniformly from [lo, hi], the arguments
-- given after `--` on wrk's command line. Every request asks for another video, as visitors do.
local lo, hi = 1, 1

function init(args)
  lo = tonumber(args[1]) or 1
  hi = tonumber(args[2]) or lo
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return wrk.format("GET", "/api/v1/videos/" .. math.random(lo, hi))
end
