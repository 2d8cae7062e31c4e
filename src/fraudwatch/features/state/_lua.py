r"""Server-side scripts of the Redis state store (state bookkeeping only, no feature math).

``STEP`` reads the state of every entity of one transaction and records the transaction, in
one atomic EVALSHA. Its request travels as one string (fields separated by ``\x1e``) and its
answer comes back as one string (entities separated by ``\x1d``, sections by ``\x1e``, items
by ``\x1c``), which keeps the client's encoding and parsing work small. Per entity it uses
these keys (``<p>`` = prefix + plan id + entity + key):

* ``<p>:e`` sorted set of events, score = timestamp (µs), member = ``seq \x1f sums \x1f
  fields``, where ``sums`` are the entity's running sums before the event (double-double
  pairs, comma-separated; empty when the spec keeps none);
* ``<p>:m`` hash: ``n`` (event sequence), ``p`` (running sums after the latest event),
  ``first``, ``last``, ``llt``/``lla``/``llo`` (time and place of the last located event);
* ``<p>:f`` sorted set of fraud-labelled transaction ids, score = their timestamp, and
  ``<p>:k`` hash transaction id -> time the label became known;
* ``<p>:s`` sorted set ``i \x1f value`` -> last time this entity used the value of its ``i``-th
  last-seen name (i = 1, 2, ...: merchant, device...; novelty), one set for all of them so
  that a transaction reads them with one ``ZMSCORE`` and writes them with one ``ZADD``.

A window's sums are the difference of two running sums, so a read returns, per window, the
running sums stored with the window's first event (one ``ZRANGE ... LIMIT 0 1``), not the
window's events. A late event (older than the entity's latest) adds its values to the running
sums of every later event. Expired events are removed on every write; expired labels and
last-seen values on every 32nd event of an entity (they are filtered out on read anyway, so
results never depend on it).

``LABEL`` applies a late label through the transaction index hash written by ``STEP``.
``LOAD_EVENTS`` and ``LOAD_HASHES`` write the events and hashes (last-seen facts, the
transaction index) of many entities or transactions at once when a snapshot is loaded.
"""

from __future__ import annotations

__all__ = ["LABEL", "LOAD_EVENTS", "LOAD_HASHES", "STEP"]

STEP = r"""
local function num(x) return string.format('%.0f', x) end
-- running sums: flat (hi, lo) pairs, comma-separated, exact round trip with %.17g
local function parse(text, k)
  local t = {}
  if not text or text == '' then
    for i = 1, k do t[i] = 0 end
    return t
  end
  for x in string.gmatch(text, '[^,]+') do t[#t + 1] = tonumber(x) end
  return t
end
local function fmt(t)
  local o = {}
  for i = 1, #t do o[i] = string.format('%.17g', t[i]) end
  return table.concat(o, ',')
end
-- double-double addition, the same steps as fraudwatch.features._dd.dd_add
local function ddadd(p, v)
  local o = {}
  for i = 1, #p, 2 do
    local hi, vh = p[i], v[i]
    local s = hi + vh
    local bb = s - hi
    o[i] = s
    o[i + 1] = p[i + 1] + (((hi - (s - bb)) + (vh - bb)) + v[i + 1])
  end
  return o
end
-- the running sums stored in an event member (between its first and second separator)
local function sums_of(member)
  local p1 = string.find(member, '\31', 1, true)
  local p2 = string.find(member, '\31', p1 + 1, true)
  return string.sub(member, p1 + 1, (p2 or 0) - 1), p1, p2
end
-- the whole request is ARGV[1]: fields separated by \30
local A = {}
for field in string.gmatch(ARGV[1], '([^\30]*)\30') do A[#A + 1] = field end
local now = tonumber(A[1])
local do_read = A[2] == '1'
local do_write = A[3] == '1'
local tx = A[4]
local label = A[5]
local known = A[6]
local ittl = tonumber(A[7])
local index_key = A[8]
local nb = tonumber(A[9])
local a = 10
local out = {}
local index_fields = {}
for b = 1, nb do
  local base = A[a]
  local spec_i = A[a + 1]
  local evw = tonumber(A[a + 2])
  local ret = tonumber(A[a + 3])
  local hor = tonumber(A[a + 4])
  local reset = tonumber(A[a + 5])
  local nc = tonumber(A[a + 6])
  a = a + 7
  local ranges = {}
  for i = 1, nc do
    ranges[i] = {tonumber(A[a]), tonumber(A[a + 1])}
    a = a + 2
  end
  local la, lb = A[a], A[a + 1]
  local meta = A[a + 2] == '1'
  local ttl_e, ttl_m = A[a + 3], A[a + 4]
  local nsw = tonumber(A[a + 5])
  a = a + 6
  local sw = {}
  for i = 1, nsw do
    sw[i] = tonumber(A[a])
    a = a + 1
  end
  local kz = tonumber(A[a])
  local payload = A[a + 1]
  local vals = A[a + 2]
  local located = A[a + 3] == '1'
  local lat, lon = A[a + 4], A[a + 5]
  local ns = tonumber(A[a + 6])
  a = a + 7
  local seen_vals = {}
  for i = 1, ns do
    seen_vals[i] = A[a]
    a = a + 1
  end
  local ek, mk, fk, kk = base .. ':e', base .. ':m', base .. ':f', base .. ':k'
  local sk = base .. ':s'
  local mvals = nil
  local none_later = false
  local total_text = nil -- the latest running sums as stored ('' = none yet), read once
  local function latest()
    if not total_text then total_text = redis.call('HGET', mk, 'p') or '' end
    return total_text
  end
  if do_read then
    local ev = {}
    if evw > 0 then
      ev = redis.call('ZRANGE', ek, '(' .. num(now - evw), num(now), 'BYSCORE', 'WITHSCORES')
    end
    local counts = {}
    for i = 1, nc do
      counts[i] = redis.call('ZCOUNT', ek, '(' .. num(now - ranges[i][1]), num(now - ranges[i][2]))
    end
    local fr = {}
    if la ~= '' then
      local ids = redis.call('ZRANGE', fk, '(' .. num(now - tonumber(la)), num(now - tonumber(lb)),
        'BYSCORE', 'WITHSCORES')
      if #ids > 0 then
        local names = {}
        for i = 1, #ids, 2 do names[#names + 1] = ids[i] end
        local knowns = redis.call('HMGET', kk, unpack(names))
        for i = 1, #names do
          fr[#fr + 1] = ids[2 * i]
          fr[#fr + 1] = knowns[i] or '0'
        end
      end
    end
    local m = {}
    if meta then
      mvals = redis.call('HMGET', mk, 'first', 'last', 'llt', 'lla', 'llo')
      for i = 1, 5 do m[i] = mvals[i] or '' end
    end
    local s = {}
    if ns > 0 then
      local members = {}
      for i = 1, ns do members[i] = i .. '\31' .. seen_vals[i] end
      local got = redis.call('ZMSCORE', sk, unpack(members))
      for i = 1, ns do
        if seen_vals[i] ~= '' and got[i] then s[i] = got[i] else s[i] = '' end
      end
    end
    local sums = {}
    if kz > 0 then
      local function at(found)
        if #found > 0 then return (sums_of(found[1])) end
        return latest()
      end
      local later = redis.call('ZRANGE', ek, '(' .. num(now), '+inf', 'BYSCORE', 'LIMIT', 0, 1)
      none_later = #later == 0
      sums[1] = at(later)
      for i = 1, nsw do
        sums[i + 1] = at(redis.call('ZRANGE', ek, '(' .. num(now - sw[i]), '+inf', 'BYSCORE',
          'LIMIT', 0, 1))
      end
    end
    out[b] = table.concat(ev, '\28') .. '\30' .. table.concat(counts, '\28') .. '\30' ..
      table.concat(fr, '\28') .. '\30' .. table.concat(m, '\28') .. '\30' ..
      table.concat(s, '\28') .. '\30' .. table.concat(sums, '\28')
  end
  if do_write then
    -- housekeeping that does not change results runs on every 32nd event of an entity
    local sweep = true
    if ret > 0 then
      local seq = redis.call('HINCRBY', mk, 'n', 1)
      sweep = seq % 32 == 1
      local before = ''
      if kz > 0 then
        local v = parse(vals, kz)
        local total = latest()
        local later = {}
        if not none_later then
          later = redis.call('ZRANGE', ek, '(' .. num(now), '+inf', 'BYSCORE', 'WITHSCORES')
        end
        if #later == 0 then
          before = total -- stored as read: no conversion
        else
          -- a late event: it goes before these, whose running sums now include it
          before = (sums_of(later[1]))
          for i = 1, #later, 2 do
            local m = later[i]
            local pre, p1, p2 = sums_of(m)
            local rest = p2 and string.sub(m, p2) or ''
            redis.call('ZREM', ek, m)
            redis.call('ZADD', ek, later[i + 1],
              string.sub(m, 1, p1) .. fmt(ddadd(parse(pre, kz), v)) .. rest)
          end
        end
        redis.call('HSET', mk, 'p', fmt(ddadd(parse(total, kz), v)))
      end
      redis.call('ZADD', ek, num(now),
        string.format('%012d', seq) .. '\31' .. before .. '\31' .. payload)
      redis.call('ZREMRANGEBYSCORE', ek, '-inf', num(now - ret))
      redis.call('PEXPIRE', ek, ttl_e)
      if la ~= '' then
        if sweep then
          local old = redis.call('ZRANGEBYSCORE', fk, '-inf', num(now - ret))
          if #old > 0 then
            redis.call('ZREMRANGEBYSCORE', fk, '-inf', num(now - ret))
            redis.call('HDEL', kk, unpack(old))
          end
        end
        if label == '1' then
          redis.call('ZADD', fk, num(now), tx)
          redis.call('HSET', kk, tx, known)
          redis.call('PEXPIRE', fk, ttl_e)
          redis.call('PEXPIRE', kk, ttl_e)
        end
        index_fields[#index_fields + 1] = 'L' .. spec_i
        index_fields[#index_fields + 1] = fk .. '\31' .. kk .. '\31' .. ttl_e
      end
    end
    if meta then
      if not mvals then mvals = redis.call('HMGET', mk, 'first', 'last', 'llt') end
      local first, last, llt = tonumber(mvals[1]), tonumber(mvals[2]), tonumber(mvals[3])
      local upd = {}
      if (not last) or (now - last >= reset) or (first and now < first) then
        upd[#upd + 1] = 'first'
        upd[#upd + 1] = num(now)
      end
      if (not last) or now >= last then
        upd[#upd + 1] = 'last'
        upd[#upd + 1] = num(now)
      end
      if located and ((not llt) or now >= llt) then
        upd[#upd + 1] = 'llt'
        upd[#upd + 1] = num(now)
        upd[#upd + 1] = 'lla'
        upd[#upd + 1] = lat
        upd[#upd + 1] = 'llo'
        upd[#upd + 1] = lon
      end
      if #upd > 0 then redis.call('HSET', mk, unpack(upd)) end
    end
    if ret > 0 or meta then redis.call('PEXPIRE', mk, ttl_m) end
    if ns > 0 then
      local used = {}
      for i = 1, ns do
        if seen_vals[i] ~= '' then
          used[#used + 1] = num(now)
          used[#used + 1] = i .. '\31' .. seen_vals[i]
        end
      end
      if #used > 0 then
        redis.call('ZADD', sk, 'GT', unpack(used))
        redis.call('PEXPIRE', sk, ttl_m)
      end
      if sweep then redis.call('ZREMRANGEBYSCORE', sk, '-inf', num(now - hor)) end
    end
  end
end
if do_write and ittl > 0 then
  redis.call('HSET', index_key, 'ts', num(now), unpack(index_fields))
  redis.call('PEXPIRE', index_key, ittl)
end
return table.concat(out, '\29')
"""

LABEL = r"""
local data = redis.call('HGETALL', KEYS[1])
if #data == 0 then return 0 end
local ts = nil
local targets = {}
for i = 1, #data, 2 do
  if data[i] == 'ts' then ts = data[i + 1] else targets[#targets + 1] = data[i + 1] end
end
for _, v in ipairs(targets) do
  local s1 = string.find(v, '\31', 1, true)
  local s2 = string.find(v, '\31', s1 + 1, true)
  local fk = string.sub(v, 1, s1 - 1)
  local kk = string.sub(v, s1 + 1, s2 - 1)
  local ttl = string.sub(v, s2 + 1)
  if ARGV[1] == '1' then
    redis.call('ZADD', fk, ts, ARGV[3])
    redis.call('HSET', kk, ARGV[3], ARGV[2])
    redis.call('PEXPIRE', fk, ttl)
    redis.call('PEXPIRE', kk, ttl)
  else
    redis.call('ZREM', fk, ARGV[3])
    redis.call('HDEL', kk, ARGV[3])
  end
end
return 1
"""

LOAD_EVENTS = r"""
-- ARGV: event TTL (ms), meta TTL (ms), then records, each ending with \29: the entity's key
-- base, its event count, its running sums after the last event and (score, member) pairs,
-- every item ending with \30
local ttl_e, ttl_m = ARGV[1], ARGV[2]
for record in string.gmatch(ARGV[3], '([^\29]*)\29') do
  local it = {}
  for item in string.gmatch(record, '([^\30]*)\30') do it[#it + 1] = item end
  local ek, mk = it[1] .. ':e', it[1] .. ':m'
  for i = 4, #it, 1000 do
    redis.call('ZADD', ek, unpack(it, i, math.min(i + 999, #it)))
  end
  redis.call('PEXPIRE', ek, ttl_e)
  redis.call('HSET', mk, 'n', it[2], 'p', it[3])
  redis.call('PEXPIRE', mk, ttl_m)
end
return 0
"""

LOAD_HASHES = r"""
-- ARGV: TTL (ms), then records, each ending with \29: a key and its (field, value) pairs,
-- every item ending with \30
local ttl = ARGV[1]
for record in string.gmatch(ARGV[2], '([^\29]*)\29') do
  local it = {}
  for item in string.gmatch(record, '([^\30]*)\30') do it[#it + 1] = item end
  redis.call('HSET', it[1], unpack(it, 2))
  redis.call('PEXPIRE', it[1], ttl)
end
return 0
"""
