-- Kong's kong/tools/ip.lua `normalize_ip`, as upstream names and targets use it: the
-- type is told by exclusion (two colons or more: ipv6; digits and dots: ipv4; else a
-- name), then that type's parser answers { type, host, port } or nil and Kong's message.
-- Prepended to upstreams.lua and targets.lua (src/lua/entities.rs). konnektd's Rust side
-- (src/entities/upstreams.rs) formats a target the same way.
local normalize_ip
do
  local find, match, gsub, sub = string.find, string.match, string.gsub, string.sub

  local function port_of(digits)
    local port = tonumber(digits)
    if port > 65535 then return nil end
    return port
  end

  local function ipv4(address)
    local a, b, c, d, port
    if find(address, ":", 1, true) then
      a, b, c, d, port = match(address, "^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?):(%d+)$")
    else
      a, b, c, d = match(address, "^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
    end
    if not a or tonumber(a) > 255 or tonumber(b) > 255 or tonumber(c) > 255 or tonumber(d) > 255 then
      return nil, "invalid ipv4 address: " .. address
    end
    if port then
      port = port_of(port)
      if not port then return nil, "invalid port number" end
    end
    return address, port
  end

  local GROUPS = "^" .. string.rep("%x%x?%x?%x?:", 7) .. "%x%x?%x?%x?$"

  local function ipv6(address)
    local check, port = match(address, "^(%b[])(.-)$")
    if port == "" then port = nil end
    if check then
      check = sub(check, 2, -2)
      if port then
        port = match(port, "^:(%d-)$")
        if not port or port == "" then return nil, "invalid ipv6 address" end
        port = port_of(port)
        if not port then return nil, "invalid port number" end
      end
    else
      check, port = address, nil
    end
    if sub(check, 1, 1) == ":" then check = "0" .. check end
    if sub(check, -1) == ":" then check = check .. "0" end
    if find(check, "::", 1, true) then
      local _, colons = gsub(check, ":", "")
      check = gsub(check, "::", ":" .. string.rep("0:", 8 - colons), 1)
    end
    if not match(check, GROUPS) then return nil, "invalid ipv6 address: " .. address end
    return check, port
  end

  local function hostname(address)
    local name = address
    local port = match(address, ":(%d+)$")
    if port then
      name = sub(name, 1, -(#port + 2))
      port = port_of(port)
      if not port then return nil, "invalid port number" end
    end
    if not match(name, "^[%d%a%-%.%_]+$") or find(name, "-.", 1, true) or sub(name, -1) == "-"
       or find(name, "..", 1, true) or sub(name, 1, 1) == "." then
      return nil, "invalid hostname: " .. address
    end
    return name, port
  end

  normalize_ip = function(address)
    local remainder, colons = gsub(address, ":", "")
    local kind = "name"
    if colons > 1 then
      kind = "ipv6"
    elseif match(remainder, "^[%d%.]+$") then
      kind = "ipv4"
    end
    local parse = (kind == "ipv6" and ipv6) or (kind == "ipv4" and ipv4) or hostname
    local host, port = parse(address)
    if not host then return nil, port end
    return { type = kind, host = host, port = port }
  end
end
